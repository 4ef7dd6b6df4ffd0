import { Module } from '@nestjs/common';
import { MembersModule } from '../members/members.module';
import { PlansModule } from '../plans/plans.module';
import { TenantResolver } from './tenant-resolver.service';
import { TenantsController } from './tenants.controller';
import { TenantsRepository } from './tenants.repository';
import { TenantsService } from './tenants.service';

/**
 * The tenant registry: platform administration of tenants, and the cached
 * lookup (TenantResolver) that admission (src/admission) resolves requests with.
 */
@Module({
  imports: [MembersModule, PlansModule],
  controllers: [TenantsController],
  providers: [TenantsRepository, TenantResolver, TenantsService],
  exports: [TenantsRepository, TenantResolver, TenantsService],
})
export class TenantsModule {}
