CREATE TABLE `audit_log` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`subject` text NOT NULL,
	`details` text NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `clients` (
	`id` text PRIMARY KEY NOT NULL,
	`identity_public_key` blob NOT NULL,
	`display_name` text NOT NULL,
	`status` text NOT NULL,
	`status_reason` text,
	`status_changed_at` integer NOT NULL,
	`reputation` real DEFAULT 1 NOT NULL,
	`capabilities` text NOT NULL,
	`enrolled_at` integer NOT NULL,
	`last_seen_at` integer,
	CONSTRAINT "clients_status_check" CHECK("clients"."status" IN ('active', 'quarantined', 'revoked')),
	CONSTRAINT "clients_reputation_check" CHECK("clients"."reputation" >= 0 AND "clients"."reputation" <= 1),
	CONSTRAINT "clients_identity_public_key_length_check" CHECK(length("clients"."identity_public_key") = 32)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `clients_identity_public_key_unique` ON `clients` (`identity_public_key`);--> statement-breakpoint
CREATE TABLE `enrollment_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`token_hash` text NOT NULL,
	`label` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`used_by_client_id` text,
	FOREIGN KEY (`used_by_client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "enrollment_tokens_used_check" CHECK(("enrollment_tokens"."used_at" IS NULL) = ("enrollment_tokens"."used_by_client_id" IS NULL))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `enrollment_tokens_token_hash_unique` ON `enrollment_tokens` (`token_hash`);--> statement-breakpoint
CREATE TABLE `federations` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`status_reason` text,
	`spec` text NOT NULL,
	`topology_json` text NOT NULL,
	`layout` text NOT NULL,
	`rounds_target` integer NOT NULL,
	`rounds_committed` integer DEFAULT 0 NOT NULL,
	`current_model_version` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "federations_status_check" CHECK("federations"."status" IN ('created', 'running', 'paused', 'completed', 'failed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `federations_name_unique` ON `federations` (`name`);--> statement-breakpoint
CREATE TABLE `model_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`federation_id` text NOT NULL,
	`version` integer NOT NULL,
	`sha256` text NOT NULL,
	`parent_sha256` text,
	`size_bytes` integer NOT NULL,
	`round_id` text,
	`optimizer_state_sha256` text,
	`metrics` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`federation_id`) REFERENCES `federations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`round_id`) REFERENCES `rounds`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `model_versions_federation_version_unique` ON `model_versions` (`federation_id`,`version`);--> statement-breakpoint
CREATE INDEX `model_versions_federation_sha_idx` ON `model_versions` (`federation_id`,`sha256`);--> statement-breakpoint
CREATE TABLE `participations` (
	`round_id` text NOT NULL,
	`client_id` text NOT NULL,
	`stage_reached` text NOT NULL,
	`dropped` integer NOT NULL,
	`dropout_stage` text,
	`dropout_reason` text,
	`num_examples` integer NOT NULL,
	`metrics` text NOT NULL,
	`bytes_up` integer NOT NULL,
	`bytes_down` integer NOT NULL,
	`backend` text,
	`verdict` text,
	PRIMARY KEY(`round_id`, `client_id`),
	FOREIGN KEY (`round_id`) REFERENCES `rounds`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `participations_client_idx` ON `participations` (`client_id`);--> statement-breakpoint
CREATE TABLE `privacy_ledger` (
	`round_id` text PRIMARY KEY NOT NULL,
	`federation_id` text NOT NULL,
	`round_number` integer NOT NULL,
	`noise_multiplier` real NOT NULL,
	`sampling_rate` real NOT NULL,
	`epsilon_after` real NOT NULL,
	`delta` real NOT NULL,
	`rdp` text NOT NULL,
	`at` integer NOT NULL,
	FOREIGN KEY (`round_id`) REFERENCES `rounds`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`federation_id`) REFERENCES `federations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `privacy_ledger_federation_round_idx` ON `privacy_ledger` (`federation_id`,`round_number`);--> statement-breakpoint
CREATE TABLE `rounds` (
	`id` text PRIMARY KEY NOT NULL,
	`federation_id` text NOT NULL,
	`number` integer NOT NULL,
	`state` text NOT NULL,
	`abort_reason` text,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`selected` text NOT NULL,
	`survivors` text NOT NULL,
	`model_in_version` integer NOT NULL,
	`model_out_version` integer,
	`metrics` text NOT NULL,
	`bytes_up` integer DEFAULT 0 NOT NULL,
	`bytes_down` integer DEFAULT 0 NOT NULL,
	`config` text NOT NULL,
	FOREIGN KEY (`federation_id`) REFERENCES `federations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rounds_federation_number_unique` ON `rounds` (`federation_id`,`number`);--> statement-breakpoint
CREATE INDEX `rounds_state_idx` ON `rounds` (`state`);--> statement-breakpoint
CREATE TABLE `verdicts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`round_id` text NOT NULL,
	`contribution_id` text NOT NULL,
	`client_id` text,
	`bucket` integer,
	`verdict` text NOT NULL,
	`reason` text NOT NULL,
	`scores` text NOT NULL,
	`at` integer NOT NULL,
	FOREIGN KEY (`round_id`) REFERENCES `rounds`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `verdicts_round_contribution_unique` ON `verdicts` (`round_id`,`contribution_id`);--> statement-breakpoint
CREATE INDEX `verdicts_client_idx` ON `verdicts` (`client_id`);