import { Controller, Delete, Get, Header, HttpCode, Param, Post, Query, Res, StreamableFile } from '@nestjs/common';
import { z } from 'zod';
import { Can } from '../access/can.decorator';
import { TenantRoute } from '../access/route-access.decorator';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { ReplyWithHeaders } from '../common/http/reply';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { exportPage, exportParamsSchema, exportView, ListExportsQuery, listExportsQuerySchema } from './exports.schemas';
import { ExportDownload, ExportsService } from './exports.service';

/** The bytes of an archive as a download (never rendered), with its sha256. */
export function archiveFile(download: ExportDownload, reply: ReplyWithHeaders): StreamableFile {
  reply.header('x-checksum-sha256', download.checksumSha256);
  return new StreamableFile(download.body, { type: 'application/gzip', disposition: `attachment; filename="${download.filename}"`, length: download.sizeBytes });
}

/**
 * The tenant's data exports ("give me my data"): an admin requests one, a background job writes the
 * archive (every row of every tenant table and every file), the admin downloads it. Another
 * tenant's export id is a 404 like a random one.
 */
@TenantRoute()
@Controller('exports')
export class ExportsController {
  constructor(private readonly exports: ExportsService) {}

  @Post()
  @HttpCode(202)
  @Can('exports:manage')
  @ApiOperation({
    id: 'exports.create',
    summary: "Export the tenant's data (every row and file) into an archive, in the background",
    description: 'Answers 202 with the export, queued; its job (GET /jobs/:jobId) reports progress. Download it once succeeded.',
    response: { schema: exportView },
    errors: [ErrorCode.ServiceUnavailable],
  })
  create() {
    return this.exports.request();
  }

  @Get()
  @Can('exports:manage')
  @ApiOperation({ id: 'exports.list', summary: "The tenant's exports, newest first", response: { schema: exportPage } })
  list(@Query(new ZodValidationPipe(listExportsQuerySchema)) query: ListExportsQuery) {
    return this.exports.list(query);
  }

  @Get(':id')
  @Can('exports:manage')
  @ApiOperation({ id: 'exports.get', summary: 'One export: status, rows per table, files, size and sha256 of the archive', response: { schema: exportView }, errors: [ErrorCode.NotFound] })
  get(@Param(new ZodValidationPipe(exportParamsSchema)) params: z.infer<typeof exportParamsSchema>) {
    return this.exports.get(params.id);
  }

  @Delete(':id')
  @HttpCode(204)
  @Can('exports:manage')
  @ApiOperation({
    id: 'exports.delete',
    summary: 'Delete a finished export: its archive, then its record (exports are also deleted EXPORT_RETENTION_DAYS after they finished)',
    description: 'Answers 204; the export is then 404, like a second DELETE. An export still queued or running is 409 EXPORT_RUNNING.',
    errors: [ErrorCode.NotFound, ErrorCode.ExportRunning, ErrorCode.StorageUnavailable],
  })
  async delete(@Param(new ZodValidationPipe(exportParamsSchema)) params: z.infer<typeof exportParamsSchema>): Promise<void> {
    await this.exports.delete(params.id);
  }

  @Get(':id/download')
  @Can('exports:manage')
  @Header('x-content-type-options', 'nosniff')
  @Header('cache-control', 'private, no-store')
  @ApiOperation({
    id: 'exports.download',
    summary: 'The archive (tar.gz) of a succeeded export',
    response: { description: 'The archive, with an x-checksum-sha256 header', mediaType: 'application/gzip' },
    errors: [ErrorCode.NotFound, ErrorCode.ExportNotReady, ErrorCode.StorageUnavailable],
  })
  async download(@Param(new ZodValidationPipe(exportParamsSchema)) params: z.infer<typeof exportParamsSchema>, @Res({ passthrough: true }) reply: ReplyWithHeaders) {
    return archiveFile(await this.exports.download(params.id), reply);
  }
}
