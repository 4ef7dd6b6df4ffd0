import { DynamicModule, Type } from '@nestjs/common';
import { JobKinds } from './job-kinds';
import { JobRowsModule } from './job-rows.module';
import { JobQueue } from './job-queue';
import { JOB_TENANTS, JobTenants } from './job-types';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { JobsWorker } from './jobs.worker';

/**
 * Background jobs (README "Background jobs"). Global, so any feature injects
 * JobsService and registers its kinds without importing this module. The way
 * into a tenant (TenantResolver) is handed in by the composition root
 * (app.module.ts): this folder sits below the tenants feature, which may enqueue
 * jobs itself.
 */
export class JobsModule {
  static forRoot(tenants: { module: Type<unknown>; resolver: Type<JobTenants> }): DynamicModule {
    return {
      module: JobsModule,
      global: true,
      imports: [tenants.module, JobRowsModule],
      controllers: [JobsController],
      providers: [{ provide: JOB_TENANTS, useExisting: tenants.resolver }, JobKinds, JobQueue, JobsWorker, JobsService],
      exports: [JobsService],
    };
  }
}
