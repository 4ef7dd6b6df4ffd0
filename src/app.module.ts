import { DynamicModule, Module } from '@nestjs/common';
import { CacheModule } from './cache/cache.module';
import { AdmissionModule } from './admission/admission.module';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthModule } from './auth/auth.module';
import { AttachmentsModule } from './attachments/attachments.module';
import { AppConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { DocumentsModule } from './documents/documents.module';
import { SearchModule } from './search/search.module';
import { ExportsModule } from './exports/exports.module';
import { HealthModule } from './health/health.module';
import { JobsModule } from './jobs/jobs.module';
import { TenantDeletionResumerModule } from './lifecycle/tenant-deletion-resumer.module';
import { TenantOffboardingModule } from './lifecycle/tenant-offboarding.module';
import { TenantMoveModule } from './lifecycle/tenant-move.module';
import { MetricsModule } from './metrics/metrics.module';
import { MembersModule } from './members/members.module';
import { PlansModule } from './plans/plans.module';
import { OpenApiModule } from './openapi/openapi.module';
import { RateLimitsModule } from './rate-limits/rate-limits.module';
import { StorageModule } from './storage/storage.module';
import { TenantResolver } from './tenants/tenant-resolver.service';
import { TenantsModule } from './tenants/tenants.module';
import { UsageModule } from './usage/usage.module';

@Module({})
export class AppModule {
  /** `env` is validated here, once; tests pass their own instead of touching process.env. */
  static forRoot(env: Record<string, string | undefined> = process.env): DynamicModule {
    return {
      module: AppModule,
      imports: [AppConfigModule.forRoot(env), DatabaseModule, CacheModule, RateLimitsModule, StorageModule, UsageModule, AdmissionModule, AuthModule, MembersModule, ApiKeysModule, PlansModule, TenantsModule, JobsModule.forRoot({ module: TenantsModule, resolver: TenantResolver }), TenantOffboardingModule, TenantDeletionResumerModule, TenantMoveModule, ExportsModule, DocumentsModule, SearchModule, AttachmentsModule, MetricsModule, HealthModule, OpenApiModule],
    };
  }
}
