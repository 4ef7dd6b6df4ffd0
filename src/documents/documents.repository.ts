import { Injectable } from '@nestjs/common';
import { and, arrayContains, desc, eq, SQL, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { attachments, DocumentRow, documents } from '../database/schema';
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
    this.insertOne = db.prepared((q, p: Placeholders<Required<NewDocument> & { id: string }>) =>
      q.insert(documents).values({ id: p.id, title: p.title, body: p.body, tags: p.tags, createdBy: p.createdBy }).returning(),
    );
    this.byId = db.prepared((q, p: Placeholders<{ id: string }>) => q.select().from(documents).where(eq(documents.id, p.id)).limit(1));
    this.firstPage = db.prepared((q, p: Placeholders<{ limit: number }>) => newestFirst(q).limit(p.limit));
  }

  /** `id` chosen by the caller, so the usage event sent with it (`db` of TenantDb.together) can name it. */
  @GenerateSql({ params: [{ id: DummyValue.UUID, title: DummyValue.STRING, body: DummyValue.STRING, tags: [DummyValue.STRING], createdBy: DummyValue.UUID_2 }, DummyValue.TX] })
  async create(input: NewDocument & { id: string }, db: TenantDb): Promise<DocumentRow> {
    const [row] = await this.insertOne.execute({ id: input.id, title: input.title, body: input.body, tags: input.tags, createdBy: input.createdBy ?? null }, db);
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

  /**
   * Locks the document (FOR UPDATE) before a delete, so no attachment can be added to it
   * until the delete commits (an attachment insert's foreign key check waits for the lock):
   * the bytes summed next are exactly those the delete removes. False: no such document
   * (of this author, with `createdBy`).
   */
  @GenerateSql({ name: 'any', params: [DummyValue.TX, DummyValue.UUID] }, { name: 'own only', params: [DummyValue.TX, DummyValue.UUID, DummyValue.UUID_2] })
  async lockForDelete(tx: TenantDb, id: string, createdBy?: string): Promise<boolean> {
    const rows = await tx
      .select({ id: documents.id })
      .from(documents)
      .where(and(eq(documents.id, id), createdBy ? eq(documents.createdBy, createdBy) : undefined))
      .for('update');
    return rows.length > 0;
  }

  /** Bytes of the document's stored attachments (they go with it: FK cascade). */
  @GenerateSql({ params: [DummyValue.TX, DummyValue.UUID] })
  async attachmentBytes(tx: TenantDb, id: string): Promise<number> {
    const [row] = await tx
      .select({ bytes: sql<string>`coalesce(sum(${attachments.sizeBytes}), 0)` })
      .from(attachments)
      .where(and(eq(attachments.documentId, id), eq(attachments.status, 'ready')));
    return Number(row?.bytes ?? 0);
  }

  /** `createdBy`: delete only if this principal created it (roles that may delete only their own content). */
  @GenerateSql({ name: 'any', params: [DummyValue.UUID, undefined, DummyValue.TX] }, { name: 'own only', params: [DummyValue.UUID, DummyValue.UUID_2, DummyValue.TX] })
  async delete(id: string, createdBy: string | undefined, tx: TenantDb): Promise<boolean> {
    const rows = await tx
      .delete(documents)
      .where(and(eq(documents.id, id), createdBy ? eq(documents.createdBy, createdBy) : undefined))
      .returning({ id: documents.id });
    return rows.length > 0;
  }
}
