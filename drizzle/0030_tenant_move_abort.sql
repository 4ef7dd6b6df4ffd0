ALTER TABLE "tenant_moves" DROP CONSTRAINT "tenant_moves_status_valid";--> statement-breakpoint
ALTER TABLE "tenant_moves" ADD COLUMN "aborted_by" text;--> statement-breakpoint
ALTER TABLE "tenant_moves" ADD CONSTRAINT "tenant_moves_status_valid" CHECK ("tenant_moves"."status" in ('running', 'failed', 'rolled-back', 'aborted', 'completed'));