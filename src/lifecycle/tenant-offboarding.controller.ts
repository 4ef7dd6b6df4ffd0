import { Controller, Delete, Get, Header, HttpCode, Param, Query, StreamableFile } from '@nestjs/common';
import { z } from 'zod';
import { PlatformAdminId } from '../access/platform-admin';
import { PlatformAdminRoute } from '../access/route-access.decorator';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
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
import { TenantDeletionFailedError, TenantOffboardingService } from './tenant-offboarding.service';

/** Offboarding (README "Offboarding"): deleting a tenant, verified, and the reports that outlive it. Platform admin only. */
@PlatformAdminRoute()
@Controller()
export class TenantOffboardingController {
  constructor(private readonly offboarding: TenantOffboardingService) {}

  @Delete('tenants/:idOrSlug')
  @HttpCode(202)
  @ApiOperation({
    id: 'tenants.delete',
    summary: 'Delete a tenant, verified: suspend, delete its rows, cache keys and files, verify, delete the tenant; resumes an unfinished deletion',
    description:
      "confirm must be the tenant's slug. Answers 202 with the deletion report (also when a step failed: the report says which; call again to resume). " +
      'The user accounts stay; the report (GET /tenant-deletions/:id) outlives the tenant.',
    response: { schema: tenantDeletionAccepted },
    errors: [ErrorCode.NotFound, ErrorCode.Conflict, ErrorCode.ServiceUnavailable],
  })
  async delete(@Param('idOrSlug') idOrSlug: string, @Query(new ZodValidationPipe(deleteTenantQuerySchema)) query: DeleteTenantQuery, @PlatformAdminId() requestedBy: string) {
    const request = { tenantId: idOrSlug, requestedBy, reason: query.reason, export: query.export };
    const started = await this.offboarding.start(request, query.confirm);
    // jobs: once src/jobs lands, this becomes `await jobs.enqueueForTenant(started.tenantId, TENANT_DELETION_JOB, request)`
    // (the handler is offboarding.delete, which resumes this very report) and the 202 returns at once.
    // Until then the deletion runs here, in the request.
    try {
      const report = await this.offboarding.run(started.id);
      return { id: report.id, status: report.status, report };
    } catch (error) {
      if (!(error instanceof TenantDeletionFailedError)) throw error;
      return { id: error.report.id, status: error.report.status, report: error.report };
    }
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
