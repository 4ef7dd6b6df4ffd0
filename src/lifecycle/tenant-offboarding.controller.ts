import { Controller, Delete, Get, Header, HttpCode, Param, Query, Res, StreamableFile } from '@nestjs/common';
import { z } from 'zod';
import { PlatformAdminId } from '../access/platform-admin';
import { PlatformAdminRoute } from '../access/route-access.decorator';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { ReplyWithHeaders } from '../common/http/reply';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import {
  DeleteTenantQuery,
  deleteTenantQuerySchema,
  listTenantDeletionsQuerySchema,
  tenantDeletionAccepted,
  tenantDeletionPage,
  tenantDeletionParamsSchema,
  tenantDeletionView,
} from './tenant-offboarding.schemas';
import { TenantOffboardingService } from './tenant-offboarding.service';

/** Offboarding (README "Offboarding"): deleting a tenant, verified, and the reports that outlive it. Platform admin only. */
@PlatformAdminRoute()
@Controller()
export class TenantOffboardingController {
  constructor(private readonly offboarding: TenantOffboardingService) {}

  @Delete('tenants/:idOrSlug')
  @HttpCode(202)
  @ApiOperation({
    id: 'tenants.delete',
    summary: 'Delete a tenant, verified, in the background: suspend, delete its rows, cache keys and files, verify, delete the tenant; resumes an unfinished deletion',
    description:
      "confirm must be the tenant's slug. Answers 202 at once with the deletion report (status running) and its location (also the Location header): " +
      'the steps run in the background; poll GET /tenant-deletions/:id until status is completed or failed. A failed deletion (the report names the step and ' +
      'the error) is resumed by calling again; one running (on this or another instance) is answered with its report, and no second run starts. ' +
      'A running deletion whose instance died is resumed by a worker instance once its lease expires. ' +
      'The user accounts stay; the report outlives the tenant.',
    response: { schema: tenantDeletionAccepted },
    errors: [ErrorCode.NotFound, ErrorCode.Conflict, ErrorCode.ServiceUnavailable],
  })
  async delete(
    @Param('idOrSlug') idOrSlug: string,
    @Query(new ZodValidationPipe(deleteTenantQuerySchema)) query: DeleteTenantQuery,
    @PlatformAdminId() requestedBy: string,
    @Res({ passthrough: true }) reply: ReplyWithHeaders,
  ) {
    const request = { tenantId: idOrSlug, requestedBy, reason: query.reason, export: query.export };
    const started = await this.offboarding.start(request, query.confirm);
    // In the background of this instance, not a pg-boss job: see TenantOffboardingService (the job's row would be erased by the deletion).
    const report = await this.offboarding.launch(started.id);
    const location = `/tenant-deletions/${report.id}`;
    reply.header('location', location);
    return { id: report.id, status: report.status, location, report };
  }

  @Get('tenant-deletions')
  @ApiOperation({ id: 'tenantDeletions.list', summary: 'Tenant deletion reports, newest first', response: { schema: tenantDeletionPage }, errors: [ErrorCode.InvalidCursor, ErrorCode.ServiceUnavailable] })
  list(@Query(new ZodValidationPipe(listTenantDeletionsQuerySchema)) query: z.infer<typeof listTenantDeletionsQuerySchema>) {
    return this.offboarding.list(query.limit, query.cursor);
  }

  @Get('tenant-deletions/:id/export')
  @Header('x-content-type-options', 'nosniff')
  @Header('cache-control', 'private, no-store')
  @ApiOperation({
    id: 'tenantDeletions.export',
    summary: 'The archive (tar.gz) the deletion exported before deleting the tenant (export=true)',
    response: { description: "The tenant's archive (README \"Export and import\")", mediaType: 'application/gzip' },
    errors: [ErrorCode.NotFound, ErrorCode.ExportNotReady, ErrorCode.StorageUnavailable],
  })
  async export(@Param(new ZodValidationPipe(tenantDeletionParamsSchema)) params: z.infer<typeof tenantDeletionParamsSchema>) {
    const archive = await this.offboarding.openExport(params.id);
    return new StreamableFile(archive.body, { type: 'application/gzip', disposition: `attachment; filename="${archive.filename}"`, length: archive.size });
  }

  @Get('tenant-deletions/:id')
  @ApiOperation({ id: 'tenantDeletions.get', summary: 'One tenant deletion report: steps with counts and times, verification, who asked', response: { schema: tenantDeletionView }, errors: [ErrorCode.NotFound, ErrorCode.ServiceUnavailable] })
  get(@Param(new ZodValidationPipe(tenantDeletionParamsSchema)) params: z.infer<typeof tenantDeletionParamsSchema>) {
    return this.offboarding.get(params.id);
  }
}
