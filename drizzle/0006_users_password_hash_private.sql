-- Password hashes out of the runtime role's reach (issue 9, item 5). drizzle-kit
-- emits neither column privileges nor functions: this is a custom migration, and
-- test/database/catalog.e2e-spec.ts checks the result on the live catalog.
--
-- "users" has no RLS (a platform table) and TenantDb may join it unfiltered, so a
-- wrong ON clause, a select() of every column or a RETURNING * could return every
-- user's hash. The runtime role keeps SELECT on the other columns only: reading
-- password_hash, naming it in a WHERE or RETURNING, or selecting * is "permission
-- denied" (42501). A column added to "users" later is not readable until granted.
-- INSERT stays (account creation writes email, name and password_hash, and
-- RETURNING only profile columns); UPDATE is revoked: no code updates users, and
-- overwriting a hash would take over the account.
REVOKE SELECT, UPDATE ON "users" FROM "app_user";--> statement-breakpoint
GRANT SELECT ("id", "email", "name", "created_at", "updated_at") ON "users" TO "app_user";--> statement-breakpoint
-- The one way to read a hash: for one account, named by its exact email
-- (compared case-insensitively like the lower(email) unique index; no pattern is
-- interpreted, NULL gives nothing). Called only by UsersRepository.findCredentialsByEmail,
-- through SystemDb (operation "users.findCredentialsByEmail", logged). SECURITY
-- DEFINER runs it as its owner, the migration role app_owner (owner of "users"),
-- with a fixed search_path and fully qualified names, so no object the caller can
-- name shadows what it reads. PUBLIC loses the default EXECUTE; only app_user gets it.
CREATE FUNCTION "public"."auth_password_hash"("p_email" text)
RETURNS TABLE ("user_id" uuid, "password_hash" text)
LANGUAGE sql
STABLE
STRICT
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT u.id, u.password_hash
    FROM public.users AS u
   WHERE pg_catalog.lower(u.email) = pg_catalog.lower(p_email)
   LIMIT 1
$$;--> statement-breakpoint
REVOKE ALL ON FUNCTION "public"."auth_password_hash"(text) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "public"."auth_password_hash"(text) TO "app_user";
