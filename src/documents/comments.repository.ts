import { Injectable } from '@nestjs/common';
import { and, asc, eq, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { CommentRow, comments } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';

@Injectable()
export class CommentsRepository {
  constructor(private readonly db: TenantDb) {}

  @GenerateSql({ params: [{ documentId: DummyValue.UUID, body: DummyValue.STRING, createdBy: DummyValue.UUID_2 }] })
  async create(input: { documentId: string; body: string; createdBy?: string | null }): Promise<CommentRow> {
    const [row] = await this.db.insert(comments).values(input).returning();
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID_2] })
  async findById(documentId: string, id: string): Promise<CommentRow | undefined> {
    const [row] = await this.db
      .select()
      .from(comments)
      .where(and(eq(comments.documentId, documentId), eq(comments.id, id)))
      .limit(1);
    return row;
  }

  /** Oldest first within a document, keyset-paginated on (created_at, id). */
  @GenerateSql({ name: 'first page', params: [DummyValue.UUID, { limit: DummyValue.NUMBER }] }, { name: 'after a cursor', params: [DummyValue.UUID, { limit: DummyValue.NUMBER, after: { createdAt: DummyValue.DATE, id: DummyValue.UUID_2 } }] })
  async listForDocument(documentId: string, options: { limit: number; after?: Cursor }): Promise<CommentRow[]> {
    return await this.db
      .select()
      .from(comments)
      .where(
        and(
          eq(comments.documentId, documentId),
          options.after ? sql`(${comments.createdAt}, ${comments.id}) > (${options.after.createdAt}, ${options.after.id})` : undefined,
        ),
      )
      .orderBy(asc(comments.createdAt), asc(comments.id))
      .limit(options.limit);
  }

  /** `createdBy`: delete only if this principal created it (roles that may delete only their own content). */
  @GenerateSql({ name: 'any', params: [DummyValue.UUID, DummyValue.UUID_2] }, { name: 'own only', params: [DummyValue.UUID, DummyValue.UUID_2, DummyValue.UUID_2] })
  async delete(documentId: string, id: string, createdBy?: string): Promise<boolean> {
    const rows = await this.db
      .delete(comments)
      .where(and(eq(comments.documentId, documentId), eq(comments.id, id), createdBy ? eq(comments.createdBy, createdBy) : undefined))
      .returning({ id: comments.id });
    return rows.length > 0;
  }
}
