import { Injectable } from '@nestjs/common';
import { and, arrayContains, desc, eq, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { DocumentRow, documents } from '../database/schema';
import { TenantDb } from '../database/tenant-db';

export interface NewDocument {
  title: string;
  body: string;
  tags: string[];
  createdBy?: string | null;
}

export type DocumentChanges = Partial<Pick<NewDocument, 'title' | 'body' | 'tags'>>;

/** Every query goes through TenantDb: the tenant is never a parameter here. */
@Injectable()
export class DocumentsRepository {
  constructor(private readonly db: TenantDb) {}

  async create(input: NewDocument): Promise<DocumentRow> {
    const [row] = await this.db.insert(documents).values(input).returning();
    return row;
  }

  async findById(id: string): Promise<DocumentRow | undefined> {
    const [row] = await this.db.select().from(documents).where(eq(documents.id, id)).limit(1);
    return row;
  }

  /** Newest first, keyset-paginated on (created_at, id) to match documents_tenant_created_idx. */
  async list(options: { limit: number; after?: Cursor; tag?: string }): Promise<DocumentRow[]> {
    return await this.db
      .select()
      .from(documents)
      .where(
        and(
          options.after ? sql`(${documents.createdAt}, ${documents.id}) < (${options.after.createdAt}, ${options.after.id})` : undefined,
          options.tag ? arrayContains(documents.tags, [options.tag]) : undefined,
        ),
      )
      // Matches documents_tenant_created_idx (DESC NULLS FIRST, what desc() means), so Postgres reads
      // limit + 1 index entries instead of sorting the tenant's rows (test/database/query-plans.e2e-spec.ts).
      .orderBy(desc(documents.createdAt), desc(documents.id))
      .limit(options.limit);
  }

  async update(id: string, changes: DocumentChanges): Promise<DocumentRow | undefined> {
    const [row] = await this.db
      .update(documents)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(documents.id, id))
      .returning();
    return row;
  }

  /** `createdBy`: delete only if this principal created it (roles that may delete only their own content). */
  async delete(id: string, createdBy?: string): Promise<boolean> {
    const rows = await this.db
      .delete(documents)
      .where(and(eq(documents.id, id), createdBy ? eq(documents.createdBy, createdBy) : undefined))
      .returning({ id: documents.id });
    return rows.length > 0;
  }
}
