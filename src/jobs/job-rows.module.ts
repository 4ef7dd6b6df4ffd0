import { Module } from '@nestjs/common';
import { JobsRepository } from './jobs.repository';
import { TenantJobsDrain } from './tenant-jobs-drain';

/**
 * The tenant's job rows without the queue: JobsModule builds on it, and offboarding imports it
 * alone (the ops CLI deletes tenants without running a job worker).
 */
@Module({ providers: [JobsRepository, TenantJobsDrain], exports: [JobsRepository, TenantJobsDrain] })
export class JobRowsModule {}
