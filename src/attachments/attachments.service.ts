import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { allows } from '../access/permissions';
import { currentPrincipal, optionalPrincipal } from '../access/principal';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { AppConfig } from '../config/app-config';
import { AttachmentRow } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { quotaExceeded, UsageLedger } from '../usage/usage-ledger.service';
import { StorageService } from '../storage/storage.service';
import { contentDisposition, parseAttachmentFilename, parseContentType } from './attachment-filename';
import { AttachmentsRepository } from './attachments.repository';
import { AttachmentDownloadUrl, AttachmentView, ListAttachmentsQuery } from './attachments.schemas';
import { StreamedUpload } from './streamed-upload';
import { meterUpload, UploadTooLargeError } from './upload-meter';

/** Response types live beside the API contract's schemas (GET /openapi.json), inferred from them; re-exported for the importers of this file. */
export type { AttachmentDownloadUrl, AttachmentView };


export interface AttachmentContent {
  body: Readable;
  contentType: string;
  contentDisposition: string;
  sizeBytes: number;
  checksumSha256: string;
}


const toView = (row: AttachmentRow): AttachmentView => ({
  id: row.id,
  documentId: row.documentId,
  filename: row.filename,
  contentType: row.contentType,
  sizeBytes: row.sizeBytes ?? 0,
  checksumSha256: row.checksumSha256 ?? '',
  createdAt: row.createdAt.toISOString(),
});

/**
 * Attachments of the current tenant's documents. Object and row are kept
 * consistent by ordering, not by a distributed transaction:
 * - upload: object first, then the row in one INSERT; if the insert fails the
 *   object is deleted. A crash between the two leaves an orphan object (no row
 *   points at it, users cannot see it), never a row pointing at nothing;
 * - delete: row first, then the object, for the same reason: if the object
 *   delete fails, it is logged as an orphan for a sweep and the request still
 *   succeeds, since what users can see is already consistent.
 * Another tenant's document or attachment id is "not found", exactly like a
 * random id: every lookup goes through the tenant-scoped handle.
 */
@Injectable()
export class AttachmentsService {
  constructor(
    private readonly attachments: AttachmentsRepository,
    private readonly storage: StorageService,
    private readonly config: AppConfig,
    private readonly db: TenantDb,
    private readonly usage: UsageLedger,
  ) {}

  async upload(documentId: string, upload: StreamedUpload): Promise<AttachmentView> {
    // Everything that can be refused is refused before storage is touched.
    const filename = parseAttachmentFilename(upload.filename);
    const contentType = parseContentType(upload.contentType);
    const maxBytes = this.config.storage.maxUploadBytes;
    if (upload.contentLength !== undefined && upload.contentLength > maxBytes) throw new UploadTooLargeError(maxBytes);
    if (upload.body.readableEnded && upload.contentLength !== 0) {
      // A body parser got there first (Express parses JSON bodies before any handler).
      throw new AppError(ErrorCode.UnsupportedMediaType, 'This content type cannot be streamed here; send the file as application/octet-stream');
    }
    if (!(await this.attachments.documentExists(documentId))) throw AppError.notFound('Document');

    // Storage quota: the upload is cut off while streaming once it passes what is left of the
    // allowance now (limit - used); recording it below checks again, atomically (two uploads at once).
    const quota = await this.usage.remaining('storage_bytes');
    const overQuota = quota ? () => quotaExceeded('storage_bytes', quota.limit, quota.used) : undefined;
    if (quota && upload.contentLength !== undefined && upload.contentLength > quota.remaining) throw overQuota!();
    const cap = quota && quota.remaining < maxBytes ? quota.remaining : maxBytes;
    const key = this.storage.newDocumentObjectKey(documentId);
    const meter = meterUpload(upload.body, cap, cap < maxBytes ? overQuota : undefined);
    try {
      await this.storage.put(key, meter, { contentType, contentLength: upload.contentLength });
    } catch (error) {
      meter.destroy();
      // S3 may have stored the object even though the call failed (lost response): do not leave it behind.
      await this.storage.deleteQuietly(key);
      throw error;
    }

    try {
      const id = randomUUID();
      const row = await this.db.transaction(async (tx) => {
        await this.usage.record({ metric: 'storage_bytes', delta: meter.bytes, reason: 'attachments.upload', key: `attachments.upload:${id}` }, tx);
        return this.attachments.create(
          { id, documentId, storageKey: key, filename, contentType, sizeBytes: meter.bytes, checksumSha256: meter.digest(), createdBy: optionalPrincipal()?.id ?? null },
          tx,
        );
      });
      return toView(row);
    } catch (error) {
      // E.g. the document was deleted meanwhile (composite FK), or a concurrent upload took the
      // rest of the storage allowance (QUOTA_EXCEEDED): no row, so no object either.
      await this.storage.deleteQuietly(key);
      throw error;
    }
  }

  async list(documentId: string, query: ListAttachmentsQuery): Promise<Page<AttachmentView>> {
    const after = decodeCursor(query.cursor);
    if (!(await this.attachments.documentExists(documentId))) throw AppError.notFound('Document');
    const rows = await this.attachments.listReady(documentId, { limit: query.limit + 1, after });
    return toPage(rows, query.limit, toView);
  }

  async get(documentId: string, attachmentId: string): Promise<AttachmentView> {
    return toView(await this.find(documentId, attachmentId));
  }

  /** Opens the object before any response header is sent, so storage failures still become a clean 503. */
  async openContent(documentId: string, attachmentId: string): Promise<AttachmentContent> {
    const row = await this.find(documentId, attachmentId);
    const { body } = await this.storage.open(row.storageKey);
    return {
      body,
      contentType: row.contentType,
      contentDisposition: contentDisposition(row.filename),
      sizeBytes: row.sizeBytes ?? 0,
      checksumSha256: row.checksumSha256 ?? '',
    };
  }

  async downloadUrl(documentId: string, attachmentId: string): Promise<AttachmentDownloadUrl> {
    const row = await this.find(documentId, attachmentId);
    const expiresInSeconds = this.config.storage.presignTtlSeconds;
    const url = await this.storage.presignGet(row.storageKey, {
      expiresInSeconds,
      contentDisposition: contentDisposition(row.filename),
      contentType: row.contentType,
    });
    if (!url) return { url: `/documents/${documentId}/attachments/${attachmentId}/content`, presigned: false, expiresAt: null };
    return { url, presigned: true, expiresAt: new Date(Date.now() + expiresInSeconds * 1000).toISOString() };
  }

  /** Members delete attachments they uploaded (documents:delete-own), admins anyone's (documents:delete-any), as for documents. */
  async delete(documentId: string, attachmentId: string): Promise<void> {
    const principal = currentPrincipal();
    const onlyBy = allows(principal.role, 'documents:delete-any') ? undefined : principal.id;
    const row = await this.db.transaction(async (tx) => {
      const deleted = await this.attachments.delete(tx, documentId, attachmentId, onlyBy);
      if (deleted?.status === 'ready' && deleted.sizeBytes) {
        await this.usage.record({ metric: 'storage_bytes', delta: -deleted.sizeBytes, reason: 'attachments.delete', key: `attachments.delete:${deleted.id}` }, tx);
      }
      return deleted;
    });
    if (!row) {
      if (onlyBy && (await this.attachments.findReady(documentId, attachmentId))) {
        throw new AppError(ErrorCode.InsufficientRole, 'Your role may delete only content you created');
      }
      throw AppError.notFound('Attachment');
    }
    await this.storage.deleteQuietly(row.storageKey);
  }

  private async find(documentId: string, attachmentId: string): Promise<AttachmentRow> {
    const row = await this.attachments.findReady(documentId, attachmentId);
    if (!row) throw AppError.notFound('Attachment');
    return row;
  }
}
