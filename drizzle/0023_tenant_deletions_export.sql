ALTER TABLE "tenant_deletions" ADD COLUMN "export_requested" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "tenant_deletions" ADD COLUMN "export_key" text;