import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { StreamedUpload } from '../attachments/streamed-upload';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { TenantContext } from '../tenancy/tenant-context';
import { TenantResolver } from '../tenants/tenant-resolver.service';
import { createTenantSchema } from '../tenants/tenants.schemas';
import { ExportsRepository } from './exports.repository';
import { ImportResultView, ImportTenantQuery } from './exports.schemas';
import { ImportTarget, TenantImporter } from './tenant-importer';
import { StorageService } from '../storage/storage.service';

const ARCHIVE_CONTENT_TYPES = new Set(['application/gzip', 'application/x-gzip', 'application/octet-stream', 'application/x-tar+gzip']);

/** POST /tenants/import: where the archive comes from (the body, or an export in storage) and where it goes. */
@Injectable()
export class TenantArchivesService {
  constructor(
    private readonly importer: TenantImporter,
    private readonly exports: ExportsRepository,
    private readonly storage: StorageService,
    private readonly resolver: TenantResolver,
  ) {}

  async import(query: ImportTenantQuery, upload: StreamedUpload): Promise<ImportResultView> {
    const target = this.targetOf(query);
    if (query.fromTenant !== undefined && query.exportId !== undefined) {
      if (upload.contentLength !== 0 && upload.contentLength !== undefined) throw AppError.validation([{ path: 'body', message: 'with fromTenant and exportId the body must be empty' }]);
      upload.body.resume();
      return this.importer.import(await this.openExport(query.fromTenant, query.exportId), target);
    }
    const type = upload.contentType?.split(';')[0].trim().toLowerCase();
    if (!type || !ARCHIVE_CONTENT_TYPES.has(type)) throw new AppError(ErrorCode.UnsupportedMediaType, 'Send the archive as application/gzip (or application/octet-stream)');
    if (upload.contentLength === 0) throw AppError.validation([{ path: 'body', message: 'the archive is missing (or name an export with fromTenant and exportId)' }]);
    return this.importer.import(upload.body, target);
  }

  /** A new tenant's fields checked as POST /tenants checks them, before the archive is read. */
  private targetOf(query: ImportTenantQuery): ImportTarget {
    if (query.into !== undefined) return { kind: 'into', tenant: query.into };
    const checked = createTenantSchema.pick({ slug: true, name: true, plan: true, database: true }).safeParse({ slug: query.slug, name: query.name ?? 'name from the archive', plan: query.plan, database: query.database });
    if (!checked.success) throw AppError.validation(checked.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
    return { kind: 'new', slug: checked.data.slug, name: query.name, plan: query.plan, database: query.database };
  }

  /** A succeeded export of `idOrSlug` (any status: a suspended tenant's export is still its data). */
  private async openExport(idOrSlug: string, exportId: string): Promise<Readable> {
    const tenant = await this.resolver.findByIdOrSlug(idOrSlug);
    return TenantContext.run({ tenant, requestId: randomUUID() }, async () => {
      const row = await this.exports.findById(exportId);
      if (!row) throw AppError.notFound('Export');
      if (row.status !== 'succeeded' || !row.archiveKey) throw new AppError(ErrorCode.ExportNotReady, `The export is ${row.status}: there is no archive to import`);
      return (await this.storage.openExportArchive(row.archiveKey)).body;
    });
  }
}
