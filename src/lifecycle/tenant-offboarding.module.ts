import { Module } from '@nestjs/common';
import { ExportsCoreModule } from '../exports/exports-core.module';
import { JobRowsModule } from '../jobs/job-rows.module';
import { TenantsModule } from '../tenants/tenants.module';
import { TenantDeletionsRepository } from './tenant-deletions.repository';
import { TenantMovesRepository } from './tenant-moves.repository';
import { TenantOffboardingController } from './tenant-offboarding.controller';
import { TenantOffboardingService } from './tenant-offboarding.service';

/**
 * Tenant offboarding (issue 14): the verified deletion of a tenant and its reports. Cache and
 * storage come from their global modules; the owner connections from DatabaseModule (TenantErasure).
 */
@Module({
  imports: [TenantsModule, ExportsCoreModule, JobRowsModule],
  controllers: [TenantOffboardingController],
  providers: [TenantDeletionsRepository, TenantMovesRepository, TenantOffboardingService],
  exports: [TenantOffboardingService],
})
export class TenantOffboardingModule {}
