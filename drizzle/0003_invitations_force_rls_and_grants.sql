-- What drizzle-kit cannot emit for the invitations table (see 0001): FORCE row-level
-- security, so the policy applies to the owner role too, and the runtime role's
-- data-only rights (DELETE: an admin revoking a pending invitation).
ALTER TABLE "invitations" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
REVOKE ALL ON "invitations" FROM PUBLIC;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "invitations" TO "app_user";
