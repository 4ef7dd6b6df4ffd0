import { z } from 'zod';
import { pageOf, paginationQuery } from '../common/http/cursor';
import { uuidParam } from '../common/http/zod-validation.pipe';

const title = z.string().trim().min(1).max(300);
const body = z.string().max(100_000);
const tags = z
  .array(z.string().trim().min(1).max(50))
  .max(20)
  .transform((values) => [...new Set(values)]);

/** Strict: unknown fields, tenantId/tenant_id included, are a 400. */
export const createDocumentSchema = z.strictObject({ title, body: body.default(''), tags: tags.default([]) });
export type CreateDocumentInput = z.infer<typeof createDocumentSchema>;

export const updateDocumentSchema = z
  .strictObject({ title: title.optional(), body: body.optional(), tags: tags.optional() })
  .refine((value) => Object.keys(value).length > 0, 'at least one of title, body, tags is required');
export type UpdateDocumentInput = z.infer<typeof updateDocumentSchema>;

export const listDocumentsQuerySchema = z.strictObject({ ...paginationQuery, tag: z.string().trim().min(1).max(50).optional() });
export type ListDocumentsQuery = z.infer<typeof listDocumentsQuerySchema>;

export const createCommentSchema = z.strictObject({ body: z.string().trim().min(1).max(10_000) });
export type CreateCommentInput = z.infer<typeof createCommentSchema>;

export const listCommentsQuerySchema = z.strictObject(paginationQuery);

export const documentParamsSchema = z.strictObject({ id: uuidParam });
export const commentParamsSchema = z.strictObject({ id: uuidParam, commentId: uuidParam });

// Responses (GET /openapi.json). The services' view types are inferred from these, so the contract cannot drift from the code.
export const documentView = z
  .object({ id: z.uuid(), title: z.string(), body: z.string(), tags: z.array(z.string()), createdAt: z.iso.datetime(), updatedAt: z.iso.datetime() })
  .meta({ id: 'Document' });
export type DocumentView = z.infer<typeof documentView>;
export const documentPage = pageOf(documentView, 'DocumentPage');
export const commentView = z.object({ id: z.uuid(), documentId: z.uuid(), body: z.string(), createdAt: z.iso.datetime() }).meta({ id: 'Comment' });
export type CommentView = z.infer<typeof commentView>;
export const commentPage = pageOf(commentView, 'CommentPage');
