PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_federations` (
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
	CONSTRAINT "federations_status_check" CHECK("__new_federations"."status" IN ('created', 'running', 'paused', 'completed', 'failed', 'budget-exhausted'))
);
--> statement-breakpoint
INSERT INTO `__new_federations`("id", "name", "status", "status_reason", "spec", "topology_json", "layout", "rounds_target", "rounds_committed", "current_model_version", "created_at", "updated_at") SELECT "id", "name", "status", "status_reason", "spec", "topology_json", "layout", "rounds_target", "rounds_committed", "current_model_version", "created_at", "updated_at" FROM `federations`;--> statement-breakpoint
DROP TABLE `federations`;--> statement-breakpoint
ALTER TABLE `__new_federations` RENAME TO `federations`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `federations_name_unique` ON `federations` (`name`);--> statement-breakpoint
ALTER TABLE `privacy_ledger` ADD `mechanism` text DEFAULT 'central' NOT NULL;--> statement-breakpoint
ALTER TABLE `privacy_ledger` ADD `clip_norm` real DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `privacy_ledger` ADD `survivors` integer DEFAULT 0 NOT NULL;