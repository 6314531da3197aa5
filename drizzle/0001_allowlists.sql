CREATE TABLE `allowlists` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`content_version` integer DEFAULT 0 NOT NULL,
	`content_key` text DEFAULT '' NOT NULL,
	`exact_count` integer DEFAULT 0 NOT NULL,
	`shard_count` integer DEFAULT 1 NOT NULL,
	`regex_entries` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`row_version` integer DEFAULT 1 NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `allowlists_workspace_name` ON `allowlists` (`workspace_id`,`name`);