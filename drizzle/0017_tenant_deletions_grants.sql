-- Offboarding (src/lifecycle): the deletion reports outlive the tenants they describe, so the
-- runtime role may read them, start one and record its steps, but never delete one: the audit
-- trail of a deletion cannot be erased through the API. The deletion itself (tenant rows, the
-- append-only ledger included, and the tenants row) runs as the owner role (DATABASE_MIGRATION_URL,
-- each database's migrationUrl), under the isolation policies, which 0016 extended to the owner.
REVOKE ALL ON "tenant_deletions" FROM PUBLIC;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON "tenant_deletions" TO "app_user";
