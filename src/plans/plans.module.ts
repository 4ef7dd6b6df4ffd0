import { Module } from '@nestjs/common';
import { PlansController, TenantPlanController } from './plans.controller';
import { PlansRepository } from './plans.repository';
import { PlansService } from './plans.service';

/** Plans as data (features and limits) and what the current tenant is entitled to. */
@Module({
  controllers: [PlansController, TenantPlanController],
  providers: [PlansRepository, PlansService],
  exports: [PlansService],
})
export class PlansModule {}
