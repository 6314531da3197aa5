CREATE TABLE `publisher_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`key_id` text NOT NULL,
	`name` text NOT NULL,
	`public_key` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	`revoked_by` text,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `publisher_keys_workspace_key` ON `publisher_keys` (`workspace_id`,`key_id`);--> statement-breakpoint
ALTER TABLE `workspaces` ADD `require_signed_uploads` integer DEFAULT false NOT NULL;