import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res } from '@nestjs/common';
import { z } from 'zod';
import { Can } from '../access/can.decorator';
import { TenantRoute } from '../access/route-access.decorator';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import type { ReplyWithStatus } from '../common/http/reply';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { embeddingParamsSchema, embeddingView, PutEmbeddingInput, putEmbeddingSchema, SearchInput, searchResults, searchSchema } from './search.schemas';
import { SearchService } from './search.service';

type EmbeddingParams = z.infer<typeof embeddingParamsSchema>;

/** Semantic search over the tenant's documents: their embeddings (client-supplied) and the nearest-neighbour query. */
@TenantRoute()
@Controller('documents')
export class SearchController {
  constructor(private readonly search: SearchService) {}

  @Put(':id/embedding')
  @Can('documents:write')
  @ApiOperation({
    id: 'embeddings.put',
    summary: "Set (201) or replace (200) a document's embedding; exactly EMBEDDING_DIMENSION finite float4 values",
    response: { schema: embeddingView },
    errors: [ErrorCode.NotFound],
  })
  async put(
    @Param(new ZodValidationPipe(embeddingParamsSchema)) params: EmbeddingParams,
    @Body(new ZodValidationPipe(putEmbeddingSchema)) body: PutEmbeddingInput,
    @Res({ passthrough: true }) reply: ReplyWithStatus,
  ) {
    const { view, created } = await this.search.putEmbedding(params.id, body);
    reply.status(created ? 201 : 200);
    return view;
  }

  @Get(':id/embedding')
  @Can('documents:read')
  @ApiOperation({ id: 'embeddings.get', summary: "Get a document's embedding", response: { schema: embeddingView }, errors: [ErrorCode.NotFound] })
  get(@Param(new ZodValidationPipe(embeddingParamsSchema)) params: EmbeddingParams) {
    return this.search.getEmbedding(params.id);
  }

  @Delete(':id/embedding')
  @HttpCode(204)
  @Can('documents:write')
  @ApiOperation({ id: 'embeddings.delete', summary: "Remove a document's embedding (the document stays)", errors: [ErrorCode.NotFound] })
  delete(@Param(new ZodValidationPipe(embeddingParamsSchema)) params: EmbeddingParams) {
    return this.search.deleteEmbedding(params.id);
  }

  @Post('search')
  @HttpCode(200)
  @Can('documents:read')
  @ApiOperation({
    id: 'documents.search',
    summary: "The k documents of the tenant nearest to a vector (cosine or inner product), best first, optionally only those with a tag",
    response: { schema: searchResults },
  })
  searchDocuments(@Body(new ZodValidationPipe(searchSchema)) body: SearchInput) {
    return this.search.search(body);
  }
}
