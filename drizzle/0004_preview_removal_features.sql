CREATE TABLE `features` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text NOT NULL,
	`jsapis` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `features_workspace_name` ON `features` (`workspace_id`,`name`);--> statement-breakpoint
CREATE TABLE `mini_program_features` (
	`mini_program_id` text NOT NULL,
	`feature_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`mini_program_id`, `feature_id`),
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`feature_id`) REFERENCES `features`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `mini_program_features_feature` ON `mini_program_features` (`feature_id`);--> statement-breakpoint
CREATE TABLE `qr_codes` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`release_id` text NOT NULL,
	`kind` text NOT NULL,
	`page_path` text NOT NULL,
	`query` text NOT NULL,
	`ttl_seconds` integer NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`release_id`) REFERENCES `releases`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `qr_codes_release` ON `qr_codes` (`release_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `qr_codes_release_default` ON `qr_codes` (`release_id`) WHERE "qr_codes"."kind" = 'default';--> statement-breakpoint
CREATE TABLE `removal_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`mini_program_id` text NOT NULL,
	`reason` text NOT NULL,
	`status` text NOT NULL,
	`requested_by` text NOT NULL,
	`requested_at` integer NOT NULL,
	`decided_by` text,
	`decided_at` integer,
	`decision_reason` text,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `removal_requests_pending` ON `removal_requests` (`mini_program_id`) WHERE "removal_requests"."status" = 'pending';--> statement-breakpoint
CREATE INDEX `removal_requests_workspace` ON `removal_requests` (`workspace_id`,`requested_at`);--> statement-breakpoint
ALTER TABLE `apps` ADD `deleted_at` integer;--> statement-breakpoint
ALTER TABLE `environments` ADD `deleted_at` integer;--> statement-breakpoint
ALTER TABLE `mini_programs` ADD `icon` text;--> statement-breakpoint
ALTER TABLE `mini_programs` ADD `category` text;--> statement-breakpoint
ALTER TABLE `mini_programs` ADD `created_by` text;--> statement-breakpoint
ALTER TABLE `mini_programs` ADD `removed_at` integer;--> statement-breakpoint
ALTER TABLE `releases` ADD `preview_testers_only` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Data: who created each existing mini program, from its audit record (null when none survives).
UPDATE `mini_programs` SET `created_by` = (
  SELECT `actor_member_id` FROM `audit_logs`
  WHERE `audit_logs`.`workspace_id` = `mini_programs`.`workspace_id` AND `audit_logs`.`resource_id` = `mini_programs`.`id`
    AND `audit_logs`.`action` = 'mini_program.create'
  ORDER BY `created_at` LIMIT 1
);--> statement-breakpoint
-- Data: every release that can still be previewed gets its default test QR code (links valid 7 days).
INSERT INTO `qr_codes` (`id`, `workspace_id`, `release_id`, `kind`, `page_path`, `query`, `ttl_seconds`, `created_by`, `created_at`)
SELECT 'qr_' || lower(hex(randomblob(10))), `m`.`workspace_id`, `r`.`id`, 'default', '', '{}', 604800, `r`.`created_by`, `r`.`created_at`
FROM `releases` `r` JOIN `mini_programs` `m` ON `m`.`id` = `r`.`mini_program_id`
WHERE `r`.`status` IN ('created', 'in_review', 'approved');
--> statement-breakpoint
-- Delivery now lists each previewable release's codes: targets holding one get a newer snapshot
-- version, so rebuilding their delivery (docs/deploy.md) publishes the codes above what was there.
UPDATE `environments` SET `snapshot_version` = `snapshot_version` + 1
WHERE `id` IN (SELECT DISTINCT `environment_id` FROM `releases` WHERE `status` IN ('created', 'in_review', 'approved'));
