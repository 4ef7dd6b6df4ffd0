import { Injectable } from '@nestjs/common';
import { and, asc, eq, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { AttachmentRow, attachments, documents } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';

export interface NewAttachment {
  /** Chosen by the caller, so the usage event recorded before the row can name it. */
  id: string;
  documentId: string;
  storageKey: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
  checksumSha256: string;
  createdBy?: string | null;
}

/** Every query goes through TenantDb: the tenant is never a parameter here. */
@Injectable()
export class AttachmentsRepository {
  constructor(private readonly db: TenantDb) {}

  @GenerateSql({ params: [DummyValue.UUID] })
  async documentExists(documentId: string): Promise<boolean> {
    const rows = await this.db.select({ id: documents.id }).from(documents).where(eq(documents.id, documentId)).limit(1);
    return rows.length > 0;
  }

  /** One statement: the row appears complete ('ready', with size and checksum) or not at all. */
  @GenerateSql({ params: [{ id: DummyValue.UUID_2, documentId: DummyValue.UUID, storageKey: DummyValue.STRING, filename: DummyValue.STRING, contentType: 'text/plain', sizeBytes: DummyValue.NUMBER, checksumSha256: DummyValue.STRING, createdBy: DummyValue.UUID_2 }, DummyValue.TX] })
  async create(input: NewAttachment, tx: TenantDb): Promise<AttachmentRow> {
    const [row] = await tx
      .insert(attachments)
      .values({ ...input, status: 'ready' })
      .returning();
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID_2] })
  async findReady(documentId: string, id: string): Promise<AttachmentRow | undefined> {
    const [row] = await this.db
      .select()
      .from(attachments)
      .where(and(eq(attachments.documentId, documentId), eq(attachments.id, id), eq(attachments.status, 'ready')))
      .limit(1);
    return row;
  }

  /** Oldest first within a document, keyset-paginated on (created_at, id) like attachments_tenant_document_created_idx. */
  @GenerateSql({ name: 'first page', params: [DummyValue.UUID, { limit: DummyValue.NUMBER }] }, { name: 'after a cursor', params: [DummyValue.UUID, { limit: DummyValue.NUMBER, after: { createdAt: DummyValue.DATE, id: DummyValue.UUID_2 } }] })
  listReady(documentId: string, options: { limit: number; after?: Cursor }): Promise<AttachmentRow[]> {
    return this.db
      .select()
      .from(attachments)
      .where(
        and(
          eq(attachments.documentId, documentId),
          eq(attachments.status, 'ready'),
          options.after ? sql`(${attachments.createdAt}, ${attachments.id}) > (${options.after.createdAt}, ${options.after.id})` : undefined,
        ),
      )
      .orderBy(asc(attachments.createdAt), asc(attachments.id))
      .limit(options.limit);
  }

  /**
   * Deletes the row and returns it (its storage key is needed to delete the object next).
   * `createdBy`: only if this principal uploaded it (roles that may delete only their own content).
   */
  @GenerateSql({ name: 'any', params: [DummyValue.TX, DummyValue.UUID, DummyValue.UUID_2] }, { name: 'own only', params: [DummyValue.TX, DummyValue.UUID, DummyValue.UUID_2, DummyValue.UUID_2] })
  async delete(tx: TenantDb, documentId: string, id: string, createdBy?: string): Promise<AttachmentRow | undefined> {
    const [row] = await tx
      .delete(attachments)
      .where(and(eq(attachments.documentId, documentId), eq(attachments.id, id), createdBy ? eq(attachments.createdBy, createdBy) : undefined))
      .returning();
    return row;
  }
}
