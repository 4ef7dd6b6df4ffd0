import { Injectable } from '@nestjs/common';
import { and, arrayContains, desc, eq, SQL, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { DocumentRow, documents } from '../database/schema';
import { Placeholders, TenantDb, TenantQueryBuilder } from '../database/tenant-db';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';

export interface NewDocument {
  title: string;
  body: string;
  tags: string[];
  createdBy?: string | null;
}

export type DocumentChanges = Partial<Pick<NewDocument, 'title' | 'body' | 'tags'>>;

/**
 * Newest first, keyset-paginated on (created_at, id). Matches documents_tenant_created_idx
 * (DESC NULLS FIRST, what desc() means), so Postgres reads limit + 1 index entries instead
 * of sorting the tenant's rows (test/database/query-plans.e2e-spec.ts).
 */
const newestFirst = (db: TenantQueryBuilder, where?: SQL) =>
  db.select().from(documents).where(where).orderBy(desc(documents.createdAt), desc(documents.id));

/** Every query goes through TenantDb: the tenant is never a parameter here. */
@Injectable()
export class DocumentsRepository {
  // The hot paths (POST, GET /documents/:id, the first page of GET /documents) are prepared:
  // built once here instead of on every request.
  private readonly insertOne;
  private readonly byId;
  private readonly firstPage;

  constructor(private readonly db: TenantDb) {
    this.insertOne = db.prepared((q, p: Placeholders<Required<NewDocument>>) =>
      q.insert(documents).values({ title: p.title, body: p.body, tags: p.tags, createdBy: p.createdBy }).returning(),
    );
    this.byId = db.prepared((q, p: Placeholders<{ id: string }>) => q.select().from(documents).where(eq(documents.id, p.id)).limit(1));
    this.firstPage = db.prepared((q, p: Placeholders<{ limit: number }>) => newestFirst(q).limit(p.limit));
  }

  @GenerateSql({ params: [{ title: DummyValue.STRING, body: DummyValue.STRING, tags: [DummyValue.STRING], createdBy: DummyValue.UUID_2 }] })
  async create(input: NewDocument): Promise<DocumentRow> {
    const [row] = await this.insertOne.execute({ title: input.title, body: input.body, tags: input.tags, createdBy: input.createdBy ?? null });
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async findById(id: string): Promise<DocumentRow | undefined> {
    const [row] = await this.byId.execute({ id });
    return row;
  }

  /** A cursor or a tag adds conditions, so those pages are built per call; the first page is prepared. */
  @GenerateSql({ name: 'first page', params: [{ limit: DummyValue.NUMBER }] }, { name: 'after a cursor, with a tag', params: [{ limit: DummyValue.NUMBER, after: { createdAt: DummyValue.DATE, id: DummyValue.UUID_2 }, tag: DummyValue.STRING }] })
  async list(options: { limit: number; after?: Cursor; tag?: string }): Promise<DocumentRow[]> {
    if (!options.after && !options.tag) return await this.firstPage.execute({ limit: options.limit });
    return await newestFirst(
      this.db,
      and(
        options.after ? sql`(${documents.createdAt}, ${documents.id}) < (${options.after.createdAt}, ${options.after.id})` : undefined,
        options.tag ? arrayContains(documents.tags, [options.tag]) : undefined,
      ),
    ).limit(options.limit);
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
