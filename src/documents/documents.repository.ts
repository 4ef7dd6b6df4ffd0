import { Injectable } from '@nestjs/common';
import { and, arrayContains, desc, eq, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { DocumentRow, documents } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';

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

  @GenerateSql({ params: [{ title: DummyValue.STRING, body: DummyValue.STRING, tags: [DummyValue.STRING], createdBy: DummyValue.UUID_2 }] })
  async create(input: NewDocument): Promise<DocumentRow> {
    const [row] = await this.db.insert(documents).values(input).returning();
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async findById(id: string): Promise<DocumentRow | undefined> {
    const [row] = await this.db.select().from(documents).where(eq(documents.id, id)).limit(1);
    return row;
  }

  /** Newest first, keyset-paginated on (created_at, id) to match documents_tenant_created_idx. */
  @GenerateSql({ name: 'first page', params: [{ limit: DummyValue.NUMBER }] }, { name: 'after a cursor, with a tag', params: [{ limit: DummyValue.NUMBER, after: { createdAt: DummyValue.DATE, id: DummyValue.UUID_2 }, tag: DummyValue.STRING }] })
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

  @GenerateSql({ params: [DummyValue.UUID, { title: DummyValue.STRING, body: DummyValue.STRING, tags: [DummyValue.STRING] }] })
  async update(id: string, changes: DocumentChanges): Promise<DocumentRow | undefined> {
    const [row] = await this.db
      .update(documents)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(documents.id, id))
      .returning();
    return row;
  }

  /** `createdBy`: delete only if this principal created it (roles that may delete only their own content). */
  @GenerateSql({ name: 'any', params: [DummyValue.UUID] }, { name: 'own only', params: [DummyValue.UUID, DummyValue.UUID_2] })
  async delete(id: string, createdBy?: string): Promise<boolean> {
    const rows = await this.db
      .delete(documents)
      .where(and(eq(documents.id, id), createdBy ? eq(documents.createdBy, createdBy) : undefined))
      .returning({ id: documents.id });
    return rows.length > 0;
  }
}
