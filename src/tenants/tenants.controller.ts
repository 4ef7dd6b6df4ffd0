import { Body, Controller, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { PlatformAdminRoute } from '../access/route-access.decorator';
import {
  createTenantSchema,
  inviteOwnerSchema,
  InviteOwnerInput,
  CreateTenantInput,
  listTenantsQuerySchema,
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
  create(@Body(new ZodValidationPipe(createTenantSchema)) body: CreateTenantInput) {
    return this.tenants.create(body);
  }

  @Get()
  list(@Query(new ZodValidationPipe(listTenantsQuerySchema)) query: z.infer<typeof listTenantsQuerySchema>) {
    return this.tenants.list(query.limit, query.cursor);
  }

  @Get(':idOrSlug')
  get(@Param('idOrSlug') idOrSlug: string) {
    return this.tenants.get(idOrSlug);
  }

  @Post(':idOrSlug/owner-invitations')
  @HttpCode(201)
  inviteOwner(@Param('idOrSlug') idOrSlug: string, @Body(new ZodValidationPipe(inviteOwnerSchema)) body: InviteOwnerInput) {
    return this.tenants.inviteOwner(idOrSlug, body.email);
  }

  /** The tenant's plan and its overrides (README "Plans"). */
  @Put(':idOrSlug/plan')
  setPlan(@Param('idOrSlug') idOrSlug: string, @Body(new ZodValidationPipe(tenantPlanSchema)) body: TenantPlanInput) {
    return this.tenants.setPlan(idOrSlug, body);
  }

  @Patch(':idOrSlug')
  update(@Param('idOrSlug') idOrSlug: string, @Body(new ZodValidationPipe(updateTenantSchema)) body: UpdateTenantInput) {
    return this.tenants.update(idOrSlug, body);
  }
}
