import { z } from 'zod';
import { pageOf, paginationQuery } from '../common/http/cursor';
import { uuidParam } from '../common/http/zod-validation.pipe';

export const documentAttachmentsParamsSchema = z.strictObject({ id: uuidParam });
export const attachmentParamsSchema = z.strictObject({ id: uuidParam, attachmentId: uuidParam });
export type AttachmentParams = z.infer<typeof attachmentParamsSchema>;

/** The file name is checked by parseAttachmentFilename (specific 400s); here it only has to be one value. */
export const uploadQuerySchema = z.strictObject({ filename: z.string().optional() });
export type UploadQuery = z.infer<typeof uploadQuerySchema>;

export const listAttachmentsQuerySchema = z.strictObject(paginationQuery);
export type ListAttachmentsQuery = z.infer<typeof listAttachmentsQuerySchema>;

// Responses (GET /openapi.json); the service's view types are inferred from these.
export const attachmentView = z
  .object({
    id: z.uuid(),
    documentId: z.uuid(),
    filename: z.string(),
    contentType: z.string(),
    sizeBytes: z.int().min(0),
    checksumSha256: z.string(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Attachment' });
export type AttachmentView = z.infer<typeof attachmentView>;
export const attachmentPage = pageOf(attachmentView, 'AttachmentPage');
export const attachmentDownloadUrlView = z
  .object({
    /** A presigned GET for exactly this object (S3), or this API's content route (local disk). */
    url: z.string(),
    presigned: z.boolean(),
    expiresAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'AttachmentDownloadUrl' });
export type AttachmentDownloadUrl = z.infer<typeof attachmentDownloadUrlView>;
