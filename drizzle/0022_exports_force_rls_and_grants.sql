-- Written by `npm run db:generate` for the tenant table "exports" (declared with tenantTable()).
-- drizzle-kit emits ENABLE ROW LEVEL SECURITY and the isolation policy, but cannot emit
-- FORCE ROW LEVEL SECURITY (which applies the policy to the table owner too, so no role
-- but a superuser sees rows without a tenant) nor grants: the runtime role gets data
-- access only, no TRUNCATE, REFERENCES, TRIGGER or DDL. Do not edit; db:verify compares.
ALTER TABLE "exports" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "exports" TO "app_user";
