ALTER TABLE "tenant_deletions" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "tenant_deletions" ADD COLUMN "lease_expires_at" timestamp (3) with time zone;--> statement-breakpoint
CREATE INDEX "tenant_deletions_running_lease_idx" ON "tenant_deletions" USING btree ("lease_expires_at") WHERE "tenant_deletions"."status" = 'running';