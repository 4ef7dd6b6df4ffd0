import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { z } from 'zod';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { Can } from '../access/can.decorator';
import { TenantRoute } from '../access/route-access.decorator';
import {
  commentPage,
  commentParamsSchema,
  commentView,
  createCommentSchema,
  CreateCommentInput,
  createDocumentSchema,
  CreateDocumentInput,
  documentPage,
  documentParamsSchema,
  documentView,
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
  @ApiOperation({ id: 'documents.create', summary: 'Create a document', response: { schema: documentView } })
  create(@Body(new ZodValidationPipe(createDocumentSchema)) body: CreateDocumentInput) {
    return this.documents.create(body);
  }

  @Get()
  @Can('documents:read')
  @ApiOperation({ id: 'documents.list', summary: 'List documents, newest first', response: { schema: documentPage } })
  list(@Query(new ZodValidationPipe(listDocumentsQuerySchema)) query: ListDocumentsQuery) {
    return this.documents.list(query);
  }

  @Get(':id')
  @Can('documents:read')
  @ApiOperation({ id: 'documents.get', summary: 'Get a document', response: { schema: documentView }, errors: [ErrorCode.NotFound] })
  get(@Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams) {
    return this.documents.get(params.id);
  }

  @Patch(':id')
  @Can('documents:write')
  @ApiOperation({ id: 'documents.update', summary: 'Change a document', response: { schema: documentView }, errors: [ErrorCode.NotFound] })
  update(
    @Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams,
    @Body(new ZodValidationPipe(updateDocumentSchema)) body: UpdateDocumentInput,
  ) {
    return this.documents.update(params.id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @Can('documents:delete-own')
  @ApiOperation({ id: 'documents.delete', summary: 'Delete a document (your own; admins and owners: any)', errors: [ErrorCode.NotFound, ErrorCode.InsufficientRole] })
  delete(@Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams) {
    return this.documents.delete(params.id);
  }

  @Post(':id/comments')
  @HttpCode(201)
  @Can('documents:write')
  @ApiOperation({ id: 'comments.create', summary: 'Comment on a document', response: { schema: commentView }, errors: [ErrorCode.NotFound] })
  addComment(
    @Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams,
    @Body(new ZodValidationPipe(createCommentSchema)) body: CreateCommentInput,
  ) {
    return this.documents.addComment(params.id, body);
  }

  @Get(':id/comments')
  @Can('documents:read')
  @ApiOperation({ id: 'comments.list', summary: "List a document's comments, oldest first", response: { schema: commentPage }, errors: [ErrorCode.NotFound] })
  listComments(
    @Param(new ZodValidationPipe(documentParamsSchema)) params: DocumentParams,
    @Query(new ZodValidationPipe(listCommentsQuerySchema)) query: z.infer<typeof listCommentsQuerySchema>,
  ) {
    return this.documents.listComments(params.id, query.limit, query.cursor);
  }

  @Delete(':id/comments/:commentId')
  @HttpCode(204)
  @Can('documents:delete-own')
  @ApiOperation({ id: 'comments.delete', summary: 'Delete a comment (your own; admins and owners: any)', errors: [ErrorCode.NotFound, ErrorCode.InsufficientRole] })
  deleteComment(@Param(new ZodValidationPipe(commentParamsSchema)) params: CommentParams) {
    return this.documents.deleteComment(params.id, params.commentId);
  }
}
