import { Body, Controller, Get, Param, Put, Res } from '@nestjs/common';
import { z } from 'zod';
import { Can } from '../access/can.decorator';
import { PlatformAdminRoute, TenantRoute } from '../access/route-access.decorator';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { PlanDefinitionInput, planDefinitionSchema, planParamsSchema } from './plans.schemas';
import { PlansService } from './plans.service';

/** Plan definitions: platform admin only. */
@PlatformAdminRoute()
@Controller('plans')
export class PlansController {
  constructor(private readonly plans: PlansService) {}

  @Get()
  list() {
    return this.plans.list();
  }

  @Get(':id')
  get(@Param(new ZodValidationPipe(planParamsSchema)) params: z.infer<typeof planParamsSchema>) {
    return this.plans.get(params.id);
  }

  /** Creates (201) or replaces (200) a plan; its tenants see the change at once (README "Plans"). */
  @Put(':id')
  async put(
    @Param(new ZodValidationPipe(planParamsSchema)) params: z.infer<typeof planParamsSchema>,
    @Body(new ZodValidationPipe(planDefinitionSchema)) body: PlanDefinitionInput,
    @Res({ passthrough: true }) response: { status(code: number): unknown },
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
  current() {
    return this.plans.current();
  }
}
