ALTER TABLE `clients` ADD `suspicion_excess` real DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `clients` ADD `suspicion_variance` real DEFAULT 0 NOT NULL;