import { Controller, Delete, Get, Header, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { z } from 'zod';
import { PlatformAdminId } from '../access/platform-admin';
import { PlatformAdminRoute } from '../access/route-access.decorator';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { ReplyWithHeaders } from '../common/http/reply';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { StreamedBody, streamedUploadFrom } from '../attachments/streamed-upload';
import { archiveFile } from './exports.controller';
import { exportParamsSchema, ImportTenantQuery, importTenantQuerySchema, importResultView, platformExportView } from './exports.schemas';
import { ExportsService } from './exports.service';
import { TenantArchivesService } from './tenant-archives.service';

const tenantExportParamsSchema = exportParamsSchema.extend({ idOrSlug: z.string().min(1).max(100) });

/** Export and import for the platform admin (README "Export and import"): any tenant, any status; imports into a new or empty tenant. */
@PlatformAdminRoute()
@Controller('tenants')
export class TenantArchivesController {
  constructor(
    private readonly exports: ExportsService,
    private readonly archives: TenantArchivesService,
  ) {}

  @Post(':idOrSlug/export')
  @HttpCode(202)
  @ApiOperation({
    id: 'tenants.export',
    summary: "Export a tenant's data (every row and file) into an archive in its storage, in the background",
    description: 'Answers 202 with the export, queued (a suspended tenant too). GET /tenants/:idOrSlug/exports/:id shows it; its archiveKey says where it is stored.',
    response: { schema: platformExportView },
    errors: [ErrorCode.NotFound, ErrorCode.ServiceUnavailable],
  })
  export(@Param('idOrSlug') idOrSlug: string, @PlatformAdminId() requestedBy: string) {
    return this.exports.requestForTenant(idOrSlug, requestedBy);
  }

  @Get(':idOrSlug/exports/:id')
  @ApiOperation({ id: 'tenants.getExport', summary: "One of a tenant's exports, with where its archive is stored", response: { schema: platformExportView }, errors: [ErrorCode.NotFound] })
  getExport(@Param(new ZodValidationPipe(tenantExportParamsSchema)) params: z.infer<typeof tenantExportParamsSchema>) {
    return this.exports.getForTenant(params.idOrSlug, params.id);
  }

  @Delete(':idOrSlug/exports/:id')
  @HttpCode(204)
  @ApiOperation({
    id: 'tenants.deleteExport',
    summary: "Delete one of a tenant's finished exports: its archive, then its record",
    description: 'Answers 204 (any tenant status); the export is then 404, like a second DELETE. An export still queued or running is 409 EXPORT_RUNNING.',
    errors: [ErrorCode.NotFound, ErrorCode.ExportRunning, ErrorCode.StorageUnavailable],
  })
  async deleteExport(@Param(new ZodValidationPipe(tenantExportParamsSchema)) params: z.infer<typeof tenantExportParamsSchema>): Promise<void> {
    await this.exports.deleteForTenant(params.idOrSlug, params.id);
  }

  @Get(':idOrSlug/exports/:id/download')
  @Header('x-content-type-options', 'nosniff')
  @Header('cache-control', 'private, no-store')
  @ApiOperation({
    id: 'tenants.downloadExport',
    summary: "The archive (tar.gz) of one of a tenant's succeeded exports",
    response: { description: 'The archive, with an x-checksum-sha256 header', mediaType: 'application/gzip' },
    errors: [ErrorCode.NotFound, ErrorCode.ExportNotReady, ErrorCode.StorageUnavailable],
  })
  async downloadExport(@Param(new ZodValidationPipe(tenantExportParamsSchema)) params: z.infer<typeof tenantExportParamsSchema>, @Res({ passthrough: true }) reply: ReplyWithHeaders) {
    return archiveFile(await this.exports.downloadForTenant(params.idOrSlug, params.id), reply);
  }

  @Post('import')
  @HttpCode(201)
  @StreamedBody()
  @ApiOperation({
    id: 'tenants.import',
    summary: 'Restore a tenant archive into a new tenant (slug, name) or an existing empty one (into)',
    description:
      'The raw body is the archive (tar.gz, as an export wrote it); or, with no body, an export already in storage (fromTenant + exportId). ' +
      'The whole archive is verified before anything is written (ARCHIVE_INVALID otherwise); rows are restored in one transaction, files under the target\'s prefix; ' +
      'a failure undoes what was written. Answers once everything is committed.',
    response: { schema: importResultView },
    errors: [ErrorCode.NotFound, ErrorCode.Conflict, ErrorCode.ArchiveInvalid, ErrorCode.TenantNotEmpty, ErrorCode.StorageUnavailable, ErrorCode.ServiceUnavailable],
  })
  import(@Query(new ZodValidationPipe(importTenantQuerySchema)) query: ImportTenantQuery, @Req() request: unknown) {
    return this.archives.import(query, streamedUploadFrom(request, undefined));
  }
}
