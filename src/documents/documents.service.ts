import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { CommentRow, DocumentRow } from '../database/schema';
import { CommentsRepository } from './comments.repository';
import { DocumentsRepository } from './documents.repository';
import { CreateCommentInput, CreateDocumentInput, ListDocumentsQuery, UpdateDocumentInput } from './documents.schemas';

export interface DocumentView {
  id: string;
  title: string;
  body: string;
  tags: string[];
  createdAt: string;
  updatedAt: string;
}

export interface CommentView {
  id: string;
  documentId: string;
  body: string;
  createdAt: string;
}

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
 * Documents and their comments for the current tenant. "Not found" is the same
 * answer for a random id and for another tenant's id: the scoped queries cannot
 * tell them apart either.
 */
@Injectable()
export class DocumentsService {
  constructor(
    private readonly documents: DocumentsRepository,
    private readonly comments: CommentsRepository,
  ) {}

  async create(input: CreateDocumentInput): Promise<DocumentView> {
    return toDocumentView(await this.documents.create(input));
  }

  async get(id: string): Promise<DocumentView> {
    const row = await this.documents.findById(id);
    if (!row) throw AppError.notFound('Document');
    return toDocumentView(row);
  }

  async list(query: ListDocumentsQuery): Promise<Page<DocumentView>> {
    const rows = await this.documents.list({ limit: query.limit + 1, after: decodeCursor(query.cursor), tag: query.tag });
    return toPage(rows, query.limit, toDocumentView);
  }

  async update(id: string, changes: UpdateDocumentInput): Promise<DocumentView> {
    const row = await this.documents.update(id, changes);
    if (!row) throw AppError.notFound('Document');
    return toDocumentView(row);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.documents.delete(id))) throw AppError.notFound('Document');
  }

  async addComment(documentId: string, input: CreateCommentInput): Promise<CommentView> {
    await this.get(documentId);
    // The composite FK would also refuse a comment on a document deleted meanwhile (-> 409).
    return toCommentView(await this.comments.create({ documentId, body: input.body }));
  }

  async listComments(documentId: string, limit: number, cursor?: string): Promise<Page<CommentView>> {
    await this.get(documentId);
    const rows = await this.comments.listForDocument(documentId, { limit: limit + 1, after: decodeCursor(cursor) });
    return toPage(rows, limit, toCommentView);
  }

  async deleteComment(documentId: string, commentId: string): Promise<void> {
    if (!(await this.comments.delete(documentId, commentId))) throw AppError.notFound('Comment');
  }
}
