CREATE TABLE "document_embeddings" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"document_id" uuid NOT NULL,
	"embedding" real[] NOT NULL,
	"norm" real NOT NULL,
	"model" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "document_embeddings_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "document_embeddings_embedding_valid" CHECK (array_ndims("document_embeddings"."embedding") = 1 and cardinality("document_embeddings"."embedding") between 1 and 2000
        and array_position("document_embeddings"."embedding", null) is null
        and not ('NaN'::real = any("document_embeddings"."embedding") or 'Infinity'::real = any("document_embeddings"."embedding") or '-Infinity'::real = any("document_embeddings"."embedding"))
        and "document_embeddings"."norm" > 0)
);
--> statement-breakpoint
ALTER TABLE "document_embeddings" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "document_embeddings" ADD CONSTRAINT "document_embeddings_document_fk" FOREIGN KEY ("tenant_id","document_id") REFERENCES "public"."documents"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "document_embeddings_tenant_document_idx" ON "document_embeddings" USING btree ("tenant_id","document_id");--> statement-breakpoint
CREATE POLICY "document_embeddings_tenant_isolation" ON "document_embeddings" AS PERMISSIVE FOR ALL TO "app_owner", "app_user" USING (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));