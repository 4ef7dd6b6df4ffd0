CREATE TABLE "tenant_deletions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"deleted_tenant_id" uuid NOT NULL,
	"tenant_slug" text NOT NULL,
	"database" text NOT NULL,
	"requested_by" text NOT NULL,
	"reason" text,
	"status" text DEFAULT 'running' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"steps" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"verification" jsonb,
	"error" text,
	"started_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp (3) with time zone,
	CONSTRAINT "tenant_deletions_status_valid" CHECK ("tenant_deletions"."status" in ('running', 'completed', 'failed')),
	CONSTRAINT "tenant_deletions_steps_array" CHECK (jsonb_typeof("tenant_deletions"."steps") = 'array')
);
--> statement-breakpoint
CREATE UNIQUE INDEX "tenant_deletions_one_open_per_tenant" ON "tenant_deletions" USING btree ("deleted_tenant_id") WHERE "tenant_deletions"."status" <> 'completed';--> statement-breakpoint
CREATE INDEX "tenant_deletions_tenant_idx" ON "tenant_deletions" USING btree ("deleted_tenant_id","started_at");--> statement-breakpoint
CREATE INDEX "tenant_deletions_started_idx" ON "tenant_deletions" USING btree ("started_at","id");--> statement-breakpoint
ALTER POLICY "documents_tenant_isolation" ON "documents" TO app_owner,app_user USING (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));--> statement-breakpoint
ALTER POLICY "comments_tenant_isolation" ON "comments" TO app_owner,app_user USING (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));--> statement-breakpoint
ALTER POLICY "memberships_tenant_isolation" ON "memberships" TO app_owner,app_user USING (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));--> statement-breakpoint
ALTER POLICY "api_keys_tenant_isolation" ON "api_keys" TO app_owner,app_user USING (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));--> statement-breakpoint
ALTER POLICY "attachments_tenant_isolation" ON "attachments" TO app_owner,app_user USING (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));--> statement-breakpoint
ALTER POLICY "invitations_tenant_isolation" ON "invitations" TO app_owner,app_user USING (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));--> statement-breakpoint
ALTER POLICY "usage_counters_tenant_isolation" ON "usage_counters" TO app_owner,app_user USING (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));--> statement-breakpoint
ALTER POLICY "usage_events_tenant_isolation" ON "usage_events" TO app_owner,app_user USING (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));