import { Controller, Delete, Get, Header, HttpCode, Param, Post, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { z } from 'zod';
import { Can } from '../access/can.decorator';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { TenantRoute } from '../access/route-access.decorator';
import { RequiresFeature } from '../access/requires-feature.decorator';
import {
  attachmentDownloadUrlView,
  attachmentPage,
  AttachmentParams,
  attachmentView,
  attachmentParamsSchema,
  documentAttachmentsParamsSchema,
  ListAttachmentsQuery,
  listAttachmentsQuerySchema,
  UploadQuery,
  uploadQuerySchema,
} from './attachments.schemas';
import { AttachmentsService } from './attachments.service';
import { StreamedBody, streamedUploadFrom } from './streamed-upload';
import { ReplyWithHeaders } from '../common/http/reply';

type DocumentParams = z.infer<typeof documentAttachmentsParamsSchema>;

@TenantRoute()
@RequiresFeature('attachments')
@Controller('documents/:id/attachments')
export class AttachmentsController {
  constructor(private readonly attachments: AttachmentsService) {}

  /** Raw body streamed to storage; file name in ?filename= or x-filename, type from Content-Type. */
  @Post()
  @HttpCode(201)
  @Can('documents:write')
  @StreamedBody()
  @ApiOperation({
    id: 'attachments.upload',
    summary: 'Upload a file to a document',
    description: 'The raw body is the file (any type, its Content-Type kept); the name in `?filename=` or the `x-filename` header.',
    response: { schema: attachmentView },
    errors: [ErrorCode.NotFound, ErrorCode.PayloadTooLarge, ErrorCode.StorageUnavailable],
  })
  upload(
    @Param(new ZodValidationPipe(documentAttachmentsParamsSchema)) params: DocumentParams,
    @Query(new ZodValidationPipe(uploadQuerySchema)) query: UploadQuery,
    @Req() request: unknown,
  ) {
    return this.attachments.upload(params.id, streamedUploadFrom(request, query.filename));
  }

  @Get()
  @Can('documents:read')
  @ApiOperation({ id: 'attachments.list', summary: "List a document's attachments", response: { schema: attachmentPage }, errors: [ErrorCode.NotFound] })
  list(
    @Param(new ZodValidationPipe(documentAttachmentsParamsSchema)) params: DocumentParams,
    @Query(new ZodValidationPipe(listAttachmentsQuerySchema)) query: ListAttachmentsQuery,
  ) {
    return this.attachments.list(params.id, query);
  }

  @Get(':attachmentId')
  @Can('documents:read')
  @ApiOperation({ id: 'attachments.get', summary: "An attachment's metadata", response: { schema: attachmentView }, errors: [ErrorCode.NotFound] })
  get(@Param(new ZodValidationPipe(attachmentParamsSchema)) params: AttachmentParams) {
    return this.attachments.get(params.id, params.attachmentId);
  }

  /** Streams the bytes through the API; never rendered inline (attachment, nosniff, sandbox). */
  @Get(':attachmentId/content')
  @Can('documents:read')
  @Header('x-content-type-options', 'nosniff')
  @Header('content-security-policy', "default-src 'none'; sandbox")
  @Header('cache-control', 'private, no-store')
  @ApiOperation({
    id: 'attachments.content',
    summary: "An attachment's bytes (as a download, never rendered)",
    response: { description: 'The bytes, with their stored Content-Type and an x-checksum-sha256 header', mediaType: 'application/octet-stream' },
    errors: [ErrorCode.NotFound, ErrorCode.StorageUnavailable],
  })
  async content(@Param(new ZodValidationPipe(attachmentParamsSchema)) params: AttachmentParams, @Res({ passthrough: true }) reply: ReplyWithHeaders) {
    const file = await this.attachments.openContent(params.id, params.attachmentId);
    reply.header('x-checksum-sha256', file.checksumSha256);
    return new StreamableFile(file.body, { type: file.contentType, disposition: file.contentDisposition, length: file.sizeBytes });
  }

  /** A short-lived presigned GET for this one object (S3), or the content route (local disk). */
  @Get(':attachmentId/download-url')
  @Can('documents:read')
  @Header('cache-control', 'private, no-store')
  @ApiOperation({ id: 'attachments.downloadUrl', summary: 'A short-lived URL to download the bytes', response: { schema: attachmentDownloadUrlView }, errors: [ErrorCode.NotFound, ErrorCode.StorageUnavailable] })
  downloadUrl(@Param(new ZodValidationPipe(attachmentParamsSchema)) params: AttachmentParams) {
    return this.attachments.downloadUrl(params.id, params.attachmentId);
  }

  @Delete(':attachmentId')
  @HttpCode(204)
  @Can('documents:delete-own')
  @ApiOperation({ id: 'attachments.delete', summary: 'Delete an attachment', errors: [ErrorCode.NotFound, ErrorCode.InsufficientRole, ErrorCode.StorageUnavailable] })
  delete(@Param(new ZodValidationPipe(attachmentParamsSchema)) params: AttachmentParams) {
    return this.attachments.delete(params.id, params.attachmentId);
  }
}
