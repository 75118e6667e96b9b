ALTER TABLE `privacy_ledger` ADD `params` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `privacy_ledger` ADD `contributors` text DEFAULT '[]' NOT NULL;