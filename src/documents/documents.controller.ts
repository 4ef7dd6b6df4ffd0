import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { Can } from '../access/can.decorator';
import { TenantRoute } from '../access/route-access.decorator';
import {
  commentParamsSchema,
  createCommentSchema,
  CreateCommentInput,
  createDocumentSchema,
  CreateDocumentInput,
  documentParamsSchema,
  listCommentsQuerySchema,
  listDocumentsQuerySchema,
  ListDocumentsQuery,
  updateDocumentSchema,
  UpdateDocumentInput,
} from './documents.schemas';
import { DocumentsService } from './documents.service';

type DocumentParams = z.infer<typeof documentParamsSchema>;
type CommentParams = z.infer<typeof commentParamsSchema>;

@TenantRoute()
@Controller('documents')
export class DocumentsController {
  constructor(private readonly documents: DocumentsService) {}

  @Post()
  @HttpCode(201)
  @Can('documents:write')
  create(@Body(new ZodValidationPipe(createDocumentSchema)) body: CreateDocumentInput) {
    return this.documents.create(body);
  }

  @Get()
  @Can('documents:read')
  list(@Query(new ZodValidationPipe(listDocumentsQuerySchema)) query: ListDocumentsQuery) {
    return this.documents.list(query);
  }

  @Get(':id')
  @Can('documents:read')
  get(@Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams) {
    return this.documents.get(params.id);
  }

  @Patch(':id')
  @Can('documents:write')
  update(
    @Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams,
    @Body(new ZodValidationPipe(updateDocumentSchema)) body: UpdateDocumentInput,
  ) {
    return this.documents.update(params.id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @Can('documents:delete-own')
  delete(@Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams) {
    return this.documents.delete(params.id);
  }

  @Post(':id/comments')
  @HttpCode(201)
  @Can('documents:write')
  addComment(
    @Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams,
    @Body(new ZodValidationPipe(createCommentSchema)) body: CreateCommentInput,
  ) {
    return this.documents.addComment(params.id, body);
  }

  @Get(':id/comments')
  @Can('documents:read')
  listComments(
    @Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams,
    @Query(new ZodValidationPipe(listCommentsQuerySchema)) query: z.infer<typeof listCommentsQuerySchema>,
  ) {
    return this.documents.listComments(params.id, query.limit, query.cursor);
  }

  @Delete(':id/comments/:commentId')
  @HttpCode(204)
  @Can('documents:delete-own')
  deleteComment(@Param(new ZodValidationPipe(commentParamsSchema)) params: CommentParams) {
    return this.documents.deleteComment(params.id, params.commentId);
  }
}
