import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { keyPart } from '../cache/cache-keys';
import { CacheService } from '../cache/cache.service';
import { StorageService } from '../storage/storage.service';
import { allows } from '../access/permissions';
import { currentPrincipal, optionalPrincipal } from '../access/principal';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, encodeCursor, Page, toPage } from '../common/http/cursor';
import { CommentRow, DocumentRow } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { UsageLedger } from '../usage/usage-ledger.service';
import { CommentsRepository } from './comments.repository';
import { DocumentsRepository } from './documents.repository';
import { CommentView, CreateCommentInput, CreateDocumentInput, DocumentView, ListDocumentsQuery, UpdateDocumentInput } from './documents.schemas';

/** Response types live beside the API contract's schemas (GET /openapi.json), inferred from them; re-exported for the importers of this file. */
export type { CommentView, DocumentView };

const toDocumentView = (row: DocumentRow): DocumentView => ({
  id: row.id,
  title: row.title,
  body: row.body,
  tags: row.tags,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
});

const toCommentView = (row: CommentRow): CommentView => ({
  id: row.id,
  documentId: row.documentId,
  body: row.body,
  createdAt: row.createdAt.toISOString(),
});

/**
 * Cache namespace of document reads and lists. Entries are versioned: every
 * document write bumps the tenant's version after it commits, so no read after
 * a successful write can see the old state (see CacheService).
 */
const CACHE_NAMESPACE = 'documents';

/**
 * Documents and their comments for the current tenant. "Not found" is the same
 * answer for a random id and for another tenant's id: the scoped queries cannot
 * tell them apart either.
 */
/**
 * The role matrix lets members delete only what they created (documents:delete-own,
 * the route's @Can) and admins anyone's (documents:delete-any). Returns the author
 * the delete is limited to, or undefined when the caller may delete anyone's content.
 */
function authorLimit(): string | undefined {
  const principal = currentPrincipal();
  return allows(principal.role, 'documents:delete-any') ? undefined : principal.id;
}

function notYours(): AppError {
  return new AppError(ErrorCode.InsufficientRole, 'Your role may delete only content you created');
}

@Injectable()
export class DocumentsService {
  constructor(
    private readonly documents: DocumentsRepository,
    private readonly comments: CommentsRepository,
    private readonly cache: CacheService,
    private readonly storage: StorageService,
    private readonly db: TenantDb,
    private readonly usage: UsageLedger,
  ) {}

  /**
   * The usage event first (it takes the tenant's documents counter lock and refuses past the
   * limit: 403 QUOTA_EXCEEDED), then the row: one round trip and one implicit transaction
   * (UsageLedger.recordWith), as the insert alone would be.
   */
  async create(input: CreateDocumentInput): Promise<DocumentView> {
    const id = randomUUID();
    const row = await this.usage.recordWith({ metric: 'documents', delta: 1, reason: 'documents.create', key: `documents.create:${id}` }, (db) =>
      this.documents.create({ id, ...input, createdBy: optionalPrincipal()?.id ?? null }, db),
    );
    const view = toDocumentView(row);
    await this.cache.invalidateNamespace(CACHE_NAMESPACE);
    return view;
  }

  async get(id: string): Promise<DocumentView> {
    // "Not found" is cached too (as null), so floods of random ids stay off PostgreSQL.
    const view = await this.cache.getOrSet(
      CACHE_NAMESPACE,
      `doc.${id}`,
      async () => {
        const row = await this.documents.findById(id);
        return row ? toDocumentView(row) : null;
      },
      { versioned: true },
    );
    if (!view) throw AppError.notFound('Document');
    return view;
  }

  async list(query: ListDocumentsQuery): Promise<Page<DocumentView>> {
    const after = decodeCursor(query.cursor);
    // The cursor is re-encoded from its parsed form, so equivalent tokens share an entry.
    const key = ['list', query.limit, after ? encodeCursor(after) : '-', query.tag === undefined ? '-' : keyPart(query.tag)].join('.');
    return this.cache.getOrSet(
      CACHE_NAMESPACE,
      key,
      async () => toPage(await this.documents.list({ limit: query.limit + 1, after, tag: query.tag }), query.limit, toDocumentView),
      { versioned: true },
    );
  }

  async update(id: string, changes: UpdateDocumentInput): Promise<DocumentView> {
    const row = await this.documents.update(id, changes);
    if (!row) throw AppError.notFound('Document');
    await this.cache.invalidateNamespace(CACHE_NAMESPACE);
    return toDocumentView(row);
  }

  /** Gives back the document and its attachments' bytes to the allowance, in the delete's transaction. */
  async delete(id: string): Promise<void> {
    const onlyBy = authorLimit();
    const deleted = await this.db.transaction(async (tx) => {
      if (!(await this.documents.lockForDelete(tx, id, onlyBy))) return false;
      const bytes = await this.documents.attachmentBytes(tx, id);
      await this.documents.delete(id, onlyBy, tx);
      await this.usage.record({ metric: 'documents', delta: -1, reason: 'documents.delete', key: `documents.delete:${id}` }, tx);
      if (bytes > 0) await this.usage.record({ metric: 'storage_bytes', delta: -bytes, reason: 'documents.delete', key: `documents.delete-attachments:${id}` }, tx);
      return true;
    });
    if (!deleted) {
      // Nothing deleted: either there is no such document, or it is someone else's.
      if (await this.documents.findById(id)) throw notYours();
      throw AppError.notFound('Document');
    }
    await this.cache.invalidateNamespace(CACHE_NAMESPACE);
    // Attachment rows went with the document (FK cascade); their objects go now, best effort.
    await this.storage.removeDocumentObjects(id);
  }

  async addComment(documentId: string, input: CreateCommentInput): Promise<CommentView> {
    await this.get(documentId);
    // The composite FK would also refuse a comment on a document deleted meanwhile (-> 409).
    return toCommentView(await this.comments.create({ documentId, body: input.body, createdBy: optionalPrincipal()?.id ?? null }));
  }

  async listComments(documentId: string, limit: number, cursor?: string): Promise<Page<CommentView>> {
    await this.get(documentId);
    const rows = await this.comments.listForDocument(documentId, { limit: limit + 1, after: decodeCursor(cursor) });
    return toPage(rows, limit, toCommentView);
  }

  async deleteComment(documentId: string, commentId: string): Promise<void> {
    if (!(await this.comments.delete(documentId, commentId, authorLimit()))) {
      if (await this.comments.findById(documentId, commentId)) throw notYours();
      throw AppError.notFound('Comment');
    }
  }
}
