CREATE TABLE `auth_failures` (
	`key` text PRIMARY KEY NOT NULL,
	`window_start` integer NOT NULL,
	`failures` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `member_invites` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`member_id` text NOT NULL,
	`secret_hash` text NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`member_id`) REFERENCES `members`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `member_invites_hash` ON `member_invites` (`secret_hash`);--> statement-breakpoint
CREATE INDEX `member_invites_member` ON `member_invites` (`member_id`);--> statement-breakpoint
DROP INDEX `members_workspace_email`;--> statement-breakpoint
ALTER TABLE `members` ADD `handle` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `members` ADD `kind` text DEFAULT 'person' NOT NULL;--> statement-breakpoint
ALTER TABLE `members` ADD `created_by` text;--> statement-breakpoint
ALTER TABLE `members` ADD `removed_at` integer;--> statement-breakpoint
ALTER TABLE `members` ADD `row_version` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
-- Data: existing members are found by their e-mail address, lower-cased (a case-only duplicate keeps its id as a suffix).
UPDATE `members` SET `handle` = lower(`email`) || CASE WHEN EXISTS (SELECT 1 FROM `members` AS o WHERE o.`workspace_id` = `members`.`workspace_id` AND lower(o.`email`) = lower(`members`.`email`) AND o.`id` < `members`.`id`) THEN '#' || `id` ELSE '' END;--> statement-breakpoint
CREATE UNIQUE INDEX `members_workspace_handle` ON `members` (`workspace_id`,`handle`) WHERE "members"."removed_at" is null;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `prefix` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `scopes` text DEFAULT '{"access":"full","miniProgramIds":null}' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `last_used_at` integer;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `created_by` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `replaced_by` text;--> statement-breakpoint
CREATE INDEX `api_tokens_member` ON `api_tokens` (`member_id`);--> statement-breakpoint
ALTER TABLE `releases` ADD `submitted_by` text;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `allow_self_approval` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `row_version` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE INDEX `audit_logs_workspace_actor` ON `audit_logs` (`workspace_id`,`actor_member_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `audit_logs_workspace_resource` ON `audit_logs` (`workspace_id`,`resource_id`,`created_at`);--> statement-breakpoint
-- Data: workspace developers used to upload to every mini program; they become developers of every existing one.
INSERT INTO `mini_program_members` (`mini_program_id`, `member_id`, `role`, `created_at`) SELECT mp.`id`, m.`id`, 'developer', CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM `members` AS m JOIN `mini_programs` AS mp ON mp.`workspace_id` = m.`workspace_id` WHERE m.`role` = 'developer' AND NOT EXISTS (SELECT 1 FROM `mini_program_members` AS x WHERE x.`mini_program_id` = mp.`id` AND x.`member_id` = m.`id`);--> statement-breakpoint
-- Data: tokens from before expiries become ordinary tokens that expire 90 days after this upgrade.
UPDATE `api_tokens` SET `prefix` = 'upd_', `expires_at` = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 7776000000 WHERE `expires_at` IS NULL;
