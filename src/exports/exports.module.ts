import { Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { enableStreamedUploads } from '../attachments/streamed-upload';
import { TenantsModule } from '../tenants/tenants.module';
import { ExportsCoreModule } from './exports-core.module';
import { ExportsController } from './exports.controller';
import { ExportsService } from './exports.service';
import { TenantArchivesController } from './tenant-archives.controller';
import { TenantArchivesService } from './tenant-archives.service';

/**
 * Export and import (issue 14; README "Export and import"): the tenant's exports (an admin's
 * "give me my data"), the platform admin's export of any tenant and import into a new or empty
 * tenant. The export runs as the `tenants.export` job (JobsService is global).
 */
@Module({
  imports: [ExportsCoreModule, TenantsModule],
  controllers: [ExportsController, TenantArchivesController],
  providers: [ExportsService, TenantArchivesService],
})
export class ExportsModule implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** The import route streams its body (the archive); installing the hook twice is a no-op. */
  onModuleInit(): void {
    enableStreamedUploads(this.adapterHost.httpAdapter?.getInstance());
  }
}
