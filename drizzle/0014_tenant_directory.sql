CREATE TABLE "database_identity" (
	"single" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"name" text NOT NULL,
	CONSTRAINT "database_identity_single" CHECK ("database_identity"."single"),
	CONSTRAINT "database_identity_name" CHECK ("database_identity"."name" ~ '^[a-z][a-z0-9_-]{0,62}$' and "database_identity"."name" <> 'shared')
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "database" text DEFAULT 'shared' NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_database_name" CHECK ("tenants"."database" ~ '^[a-z][a-z0-9_-]{0,62}$');