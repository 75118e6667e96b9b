-- The audit log is append-only: refuse UPDATE and DELETE inside SQLite itself, so no code path (or stray SQL
-- session) can rewrite history by accident. Someone with write access to the file can still drop these triggers;
-- the hash chain (verifyAuditChain) is what detects that.
CREATE TRIGGER `audit_log_no_update` BEFORE UPDATE ON `audit_log`
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
--> statement-breakpoint
CREATE TRIGGER `audit_log_no_delete` BEFORE DELETE ON `audit_log`
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;
