CREATE TABLE "tenant_moves" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"moved_tenant_id" uuid NOT NULL,
	"tenant_slug" text NOT NULL,
	"from_database" text NOT NULL,
	"to_database" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"step" text DEFAULT 'requested' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"copied" jsonb,
	"verification" jsonb,
	"cleaned" jsonb,
	"error" text,
	"requested_by" text NOT NULL,
	"job_id" uuid,
	"started_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"paused_at" timestamp (3) with time zone,
	"resumed_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	CONSTRAINT "tenant_moves_status_valid" CHECK ("tenant_moves"."status" in ('running', 'failed', 'rolled-back', 'completed')),
	CONSTRAINT "tenant_moves_step_valid" CHECK ("tenant_moves"."step" in ('requested', 'paused', 'copied', 'verified', 'switched', 'cleaned')),
	CONSTRAINT "tenant_moves_databases_differ" CHECK ("tenant_moves"."from_database" <> "tenant_moves"."to_database")
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "move_state" text;--> statement-breakpoint
CREATE UNIQUE INDEX "tenant_moves_one_open_per_tenant" ON "tenant_moves" USING btree ("moved_tenant_id") WHERE "tenant_moves"."status" in ('running', 'failed');--> statement-breakpoint
CREATE INDEX "tenant_moves_started_idx" ON "tenant_moves" USING btree ("started_at","id");--> statement-breakpoint
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_move_state_valid" CHECK ("tenants"."move_state" is null or "tenants"."move_state" = 'paused');