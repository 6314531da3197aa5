CREATE TABLE `patches` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`mini_program_id` text NOT NULL,
	`base_version_id` text NOT NULL,
	`target_version_id` text NOT NULL,
	`format` text NOT NULL,
	`status` text NOT NULL,
	`sha256` text,
	`size` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`error` text,
	`build_ms` integer,
	`memory_bytes` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`base_version_id`) REFERENCES `versions`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`target_version_id`) REFERENCES `versions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `patches_pair` ON `patches` (`base_version_id`,`target_version_id`,`format`);--> statement-breakpoint
CREATE INDEX `patches_target` ON `patches` (`target_version_id`);--> statement-breakpoint
CREATE INDEX `patches_mini_program` ON `patches` (`mini_program_id`);