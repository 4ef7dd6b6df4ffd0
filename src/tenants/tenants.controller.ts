import { Body, Controller, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { PlatformAdminRoute } from '../access/route-access.decorator';
import {
  createTenantSchema,
  inviteOwnerSchema,
  InviteOwnerInput,
  CreateTenantInput,
  createdTenantView,
  listTenantsQuerySchema,
  ownerInvitationResultView,
  tenantPage,
  tenantView,
  updateTenantSchema,
  UpdateTenantInput,
} from './tenants.schemas';
import { TenantsService } from './tenants.service';
import { TenantPlanInput, tenantPlanSchema } from '../plans/plans.schemas';
import { z } from 'zod';

@PlatformAdminRoute()
@Controller('tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ id: 'tenants.create', summary: 'Create a tenant, with its first owner or an owner invitation', response: { schema: createdTenantView }, errors: [ErrorCode.Conflict, ErrorCode.ServiceUnavailable] })
  create(@Body(new ZodValidationPipe(createTenantSchema)) body: CreateTenantInput) {
    return this.tenants.create(body);
  }

  @Get()
  @ApiOperation({ id: 'tenants.list', summary: 'List tenants', response: { schema: tenantPage }, errors: [ErrorCode.ServiceUnavailable, ErrorCode.InvalidCursor] })
  list(@Query(new ZodValidationPipe(listTenantsQuerySchema)) query: z.infer<typeof listTenantsQuerySchema>) {
    return this.tenants.list(query.limit, query.cursor);
  }

  @Get(':idOrSlug')
  @ApiOperation({ id: 'tenants.get', summary: 'Get a tenant by id or slug', response: { schema: tenantView }, errors: [ErrorCode.NotFound, ErrorCode.ServiceUnavailable] })
  get(@Param('idOrSlug') idOrSlug: string) {
    return this.tenants.get(idOrSlug);
  }

  @Post(':idOrSlug/owner-invitations')
  @HttpCode(201)
  @ApiOperation({
    id: 'tenants.inviteOwner',
    summary: 'An owner invitation for an existing tenant',
    response: { schema: ownerInvitationResultView },
    errors: [ErrorCode.NotFound, ErrorCode.Conflict, ErrorCode.TenantSuspended, ErrorCode.ServiceUnavailable],
  })
  inviteOwner(@Param('idOrSlug') idOrSlug: string, @Body(new ZodValidationPipe(inviteOwnerSchema)) body: InviteOwnerInput) {
    return this.tenants.inviteOwner(idOrSlug, body.email);
  }

  /** The tenant's plan and its overrides (README "Plans"). */
  @Put(':idOrSlug/plan')
  @ApiOperation({ id: 'tenants.setPlan', summary: "Set a tenant's plan and overrides (replaced as a whole); bites at once", response: { schema: tenantView }, errors: [ErrorCode.NotFound, ErrorCode.ServiceUnavailable] })
  setPlan(@Param('idOrSlug') idOrSlug: string, @Body(new ZodValidationPipe(tenantPlanSchema)) body: TenantPlanInput) {
    return this.tenants.setPlan(idOrSlug, body);
  }

  @Patch(':idOrSlug')
  @ApiOperation({ id: 'tenants.update', summary: "Change a tenant's name, plan or status", response: { schema: tenantView }, errors: [ErrorCode.NotFound, ErrorCode.ServiceUnavailable] })
  update(@Param('idOrSlug') idOrSlug: string, @Body(new ZodValidationPipe(updateTenantSchema)) body: UpdateTenantInput) {
    return this.tenants.update(idOrSlug, body);
  }
}
