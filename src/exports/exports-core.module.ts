import { Module } from '@nestjs/common';
import { TenantsModule } from '../tenants/tenants.module';
import { ExportsRepository } from './exports.repository';
import { TenantExportRunner } from './tenant-export-runner';
import { TenantExporter } from './tenant-exporter';
import { TenantImporter } from './tenant-importer';

/**
 * Writing and restoring tenant archives, without HTTP or jobs: what the app (ExportsModule), the
 * CLI and offboarding (export before deletion) share. Storage comes from its global module, the
 * owner connections (TenantRows, TenantErasure) from DatabaseModule.
 */
@Module({
  imports: [TenantsModule],
  providers: [ExportsRepository, TenantExporter, TenantImporter, TenantExportRunner],
  exports: [ExportsRepository, TenantExporter, TenantImporter, TenantExportRunner],
})
export class ExportsCoreModule {}
