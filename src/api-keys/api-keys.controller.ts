import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { z } from 'zod';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { Can } from '../access/can.decorator';
import { currentPrincipal } from '../access/principal';
import { TenantRoute } from '../access/route-access.decorator';
import { RequiresFeature } from '../access/requires-feature.decorator';
import { apiKeyPage, apiKeyParamsSchema, createdApiKeyView, createApiKeySchema, CreateApiKeyInput, listApiKeysQuerySchema, ListApiKeysQuery } from './api-keys.schemas';
import { ApiKeysService } from './api-keys.service';

@TenantRoute()
@Can('api-keys:manage')
@RequiresFeature('api_keys')
@Controller('api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ id: 'apiKeys.create', summary: 'Create an API key (the key is in this response only)', response: { schema: createdApiKeyView }, errors: [ErrorCode.Conflict] })
  create(@Body(new ZodValidationPipe(createApiKeySchema)) body: CreateApiKeyInput) {
    return this.keys.create(body, currentPrincipal());
  }

  @Get()
  @ApiOperation({ id: 'apiKeys.list', summary: 'List API keys, without their secrets', response: { schema: apiKeyPage } })
  list(@Query(new ZodValidationPipe(listApiKeysQuerySchema)) query: ListApiKeysQuery) {
    return this.keys.list(query);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ id: 'apiKeys.revoke', summary: 'Revoke an API key', errors: [ErrorCode.NotFound] })
  revoke(@Param(new ZodValidationPipe(apiKeyParamsSchema)) params: z.infer<typeof apiKeyParamsSchema>) {
    return this.keys.revoke(params.id, currentPrincipal());
  }
}
