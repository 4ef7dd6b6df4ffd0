-- drizzle-kit can emit ENABLE ROW LEVEL SECURITY but not FORCE, and never detects
-- drift in either: FORCE and the runtime role's privileges live here, and a test
-- (test/database/catalog.e2e-spec.ts) checks the live catalog after migrating.
-- FORCE makes the policies apply to the table owner too, so no role but a
-- superuser sees rows without a tenant.
ALTER TABLE "documents" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "comments" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "memberships" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "api_keys" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "attachments" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
-- The runtime role: data access only. No TRUNCATE, REFERENCES, TRIGGER or DDL.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM PUBLIC;--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO "app_user";--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON "tenants", "users" TO "app_user";--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "documents", "comments", "memberships", "api_keys", "attachments" TO "app_user";
