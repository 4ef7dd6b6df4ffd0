import { Injectable } from '@nestjs/common';
import { and, arrayContains, eq, sql } from 'drizzle-orm';
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
      // Spelled to match the index exactly: drizzle-kit created it as DESC NULLS LAST, while desc()
      // alone means DESC NULLS FIRST, and Postgres then sorts every row of the tenant instead of
      // reading 21 index entries. The columns are NOT NULL, so the order is the same
      // (test/database/query-plans.e2e-spec.ts checks the plan).
      .orderBy(sql`${documents.createdAt} desc nulls last`, sql`${documents.id} desc nulls last`)
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
