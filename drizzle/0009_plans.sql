CREATE TABLE "plans" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"features" text[] DEFAULT '{}'::text[] NOT NULL,
	"limits" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plans_id_format" CHECK ("plans"."id" ~ '^[a-z0-9_-]{1,50}$'),
	CONSTRAINT "plans_limits_object" CHECK (jsonb_typeof("plans"."limits") = 'object')
);
--> statement-breakpoint
-- Plans as data: the three plans every deployment starts with (README "Plans"); the platform admin
-- edits them with PUT /plans/:id. Limits: null is unlimited. New tenants get "free" (tenants.plan's default).
INSERT INTO "plans" ("id", "name", "features", "limits") VALUES
  ('free', 'Free', '{}', '{"documents": 1000, "storage_bytes": 104857600, "members": 5, "api_keys": 0, "requests_per_minute": 1000}'),
  ('pro', 'Pro', '{attachments,api_keys}', '{"documents": 100000, "storage_bytes": 10737418240, "members": 50, "api_keys": 20, "requests_per_minute": 10000}'),
  ('enterprise', 'Enterprise', '{attachments,api_keys}', '{"documents": null, "storage_bytes": null, "members": null, "api_keys": null, "requests_per_minute": null}');
--> statement-breakpoint
-- Tenants created before plans were data named their plan freely: each such name becomes a plan with
-- the free plan's definition, so the foreign key below holds and nobody loses access on upgrade.
INSERT INTO "plans" ("id", "name", "features", "limits")
  SELECT DISTINCT t."plan", t."plan", p."features", p."limits" FROM "tenants" t CROSS JOIN "plans" p
  WHERE p."id" = 'free' AND t."plan" NOT IN (SELECT "id" FROM "plans") AND t."plan" ~ '^[a-z0-9_-]{1,50}$';
--> statement-breakpoint
-- The API reads plans (tenant lookups join them) and the platform admin edits them; nobody deletes one through the API.
GRANT SELECT, INSERT, UPDATE ON "plans" TO "app_user";
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "plan_overrides" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_plan_fk" FOREIGN KEY ("plan") REFERENCES "public"."plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "tenants_plan_idx" ON "tenants" USING btree ("plan","id");--> statement-breakpoint
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_plan_overrides_object" CHECK (jsonb_typeof("tenants"."plan_overrides") = 'object');