import { z } from 'zod';
import { paginationQuery } from '../common/http/cursor';
import { uuidParam } from '../common/http/zod-validation.pipe';

export const documentAttachmentsParamsSchema = z.strictObject({ id: uuidParam });
export const attachmentParamsSchema = z.strictObject({ id: uuidParam, attachmentId: uuidParam });
export type AttachmentParams = z.infer<typeof attachmentParamsSchema>;

/** The file name is checked by parseAttachmentFilename (specific 400s); here it only has to be one value. */
export const uploadQuerySchema = z.strictObject({ filename: z.string().optional() });
export type UploadQuery = z.infer<typeof uploadQuerySchema>;

export const listAttachmentsQuerySchema = z.strictObject(paginationQuery);
export type ListAttachmentsQuery = z.infer<typeof listAttachmentsQuerySchema>;
