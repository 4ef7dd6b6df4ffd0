import { Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { AccessModule } from '../access/access.module';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AuthModule } from '../auth/auth.module';
import { MembersModule } from '../members/members.module';
import { TenantsModule } from '../tenants/tenants.module';
import { AccessGuard } from './access.guard';
import { TenantContextInterceptor } from './tenant-context.interceptor';

/**
 * Request admission: the global guard and the interceptor that enters the
 * tenant context. It sits above the features whose data it checks (tenants,
 * memberships, API keys, access tokens) and imports their modules; none of
 * them imports it.
 */
@Module({
  imports: [AccessModule, TenantsModule, AuthModule, MembersModule, ApiKeysModule],
  providers: [
    { provide: APP_GUARD, useClass: AccessGuard },
    { provide: APP_INTERCEPTOR, useClass: TenantContextInterceptor },
  ],
})
export class AdmissionModule {}
