import { Body, Controller, Get, Param, Put, Res } from '@nestjs/common';
import { z } from 'zod';
import { Can } from '../access/can.decorator';
import { PlatformAdminRoute, TenantRoute } from '../access/route-access.decorator';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { entitlementsView, PlanDefinitionInput, planDefinitionSchema, planList, planParamsSchema, planView } from './plans.schemas';
import { PlansService } from './plans.service';
import { ReplyWithStatus } from '../common/http/reply';

/** Plan definitions: platform admin only. */
@PlatformAdminRoute()
@Controller('plans')
export class PlansController {
  constructor(private readonly plans: PlansService) {}

  @Get()
  @ApiOperation({ id: 'plans.list', summary: 'List plan definitions', response: { schema: planList }, errors: [ErrorCode.ServiceUnavailable] })
  list() {
    return this.plans.list();
  }

  @Get(':id')
  @ApiOperation({ id: 'plans.get', summary: 'Get a plan definition', response: { schema: planView }, errors: [ErrorCode.NotFound, ErrorCode.ServiceUnavailable] })
  get(@Param(new ZodValidationPipe(planParamsSchema)) params: z.infer<typeof planParamsSchema>) {
    return this.plans.get(params.id);
  }

  /** Creates (201) or replaces (200) a plan; its tenants see the change at once (README "Plans"). */
  @Put(':id')
  @ApiOperation({
    id: 'plans.put',
    summary: "Create (201) or replace (200) a plan's features and limits; its tenants see the change at once",
    response: { schema: planView },
    errors: [ErrorCode.ServiceUnavailable],
  })
  async put(
    @Param(new ZodValidationPipe(planParamsSchema)) params: z.infer<typeof planParamsSchema>,
    @Body(new ZodValidationPipe(planDefinitionSchema)) body: PlanDefinitionInput,
    @Res({ passthrough: true }) response: ReplyWithStatus,
  ) {
    const { plan, created } = await this.plans.put(params.id, body);
    response.status(created ? 201 : 200);
    return plan;
  }
}

/** The calling tenant's own plan: any member may read what their tenant can do. */
@TenantRoute()
@Controller('plan')
export class TenantPlanController {
  constructor(private readonly plans: PlansService) {}

  @Get()
  @Can('plan:read')
  @ApiOperation({ id: 'plan.get', summary: "The calling tenant's plan, features and limits (overrides applied)", response: { schema: entitlementsView } })
  current() {
    return this.plans.current();
  }
}
