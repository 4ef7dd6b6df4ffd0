import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ExportRow } from '../database/schema';
import { StorageService } from '../storage/storage.service';
import { TenantContext } from '../tenancy/tenant-context';
import { TenantResolver } from '../tenants/tenant-resolver.service';
import { ExportsRepository } from './exports.repository';
import { ReportProgress, TenantExporter } from './tenant-exporter';

/**
 * An export run in this process, start to end, without the job queue: the ops CLI's `tenants
 * export`. The same row and the same TenantExporter.run as the `tenants.export` job, for a tenant of
 * any status (its data is still its data when suspended).
 */
@Injectable()
export class TenantExportRunner {
  constructor(
    private readonly resolver: TenantResolver,
    private readonly exports: ExportsRepository,
    private readonly exporter: TenantExporter,
    private readonly storage: StorageService,
  ) {}

  /** Exports the tenant; `copy` then gets the stored archive's bytes (e.g. to a local file). */
  async run(
    idOrSlug: string,
    requestedBy: string,
    options: { report?: ReportProgress; copy?: (archive: Readable) => Promise<void> } = {},
  ): Promise<ExportRow & { tenantSlug: string }> {
    const tenant = await this.resolver.findByIdOrSlug(idOrSlug);
    return TenantContext.run({ tenant, requestId: randomUUID() }, async () => {
      const row = await this.exports.create({ id: randomUUID(), requestedBy });
      const done = await this.exporter.run(row.id, { report: options.report, final: true });
      if (options.copy && done.archiveKey) await options.copy((await this.storage.openExportArchive(done.archiveKey)).body);
      return { ...done, tenantSlug: tenant.slug };
    });
  }
}
