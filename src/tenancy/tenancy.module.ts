import { Global, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { TenantsRepository } from '../tenants/tenants.repository';
import { AccessGuard } from './access.guard';
import { TenancyService } from './tenancy.service';
import { TenantContextInterceptor } from './tenant-context.interceptor';
import { TenantResolver } from './tenant-resolver.service';

@Global()
@Module({
  providers: [
    TenantsRepository,
    TenantResolver,
    TenancyService,
    { provide: APP_GUARD, useClass: AccessGuard },
    { provide: APP_INTERCEPTOR, useClass: TenantContextInterceptor },
  ],
  exports: [TenancyService, TenantResolver, TenantsRepository],
})
export class TenancyModule {}
