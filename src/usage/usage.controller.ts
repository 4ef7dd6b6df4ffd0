import { Controller, Get, Query, Res } from '@nestjs/common';
import { Can } from '../access/can.decorator';
import { PlatformAdminRoute, TenantRoute } from '../access/route-access.decorator';
import { ApiOperation } from '../common/http/api-operation';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { ExportQuery, exportQuerySchema, usageExportView, usageView } from './usage.schemas';
import { UsageService } from './usage.service';
import { ReplyWithHeaders } from '../common/http/reply';

/** The calling tenant's usage this billing period (admins and owners). */
@TenantRoute()
@Controller('usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @Can('usage:read')
  @ApiOperation({ id: 'usage.get', summary: "This billing period's use of every metric against the plan's limits", response: { schema: usageView } })
  current() {
    return this.usage.current();
  }
}

/** Every tenant's usage for one billing period, for the billing system (platform admin key only). */
@PlatformAdminRoute()
@Controller('usage/export')
export class UsageExportController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @ApiOperation({
    id: 'usage.export',
    summary: "Every tenant's usage in one billing period (format=json, the default; format=csv answers text/csv with the same columns)",
    response: { schema: usageExportView },
  })
  async export(@Query(new ZodValidationPipe(exportQuerySchema)) query: ExportQuery, @Res({ passthrough: true }) reply: ReplyWithHeaders) {
    const { period, rows } = await this.usage.export(query.period);
    if (query.format === 'json') return { period: period.id, start: period.start.toISOString(), end: period.end.toISOString(), rows };
    reply.header('content-type', 'text/csv; charset=utf-8');
    reply.header('content-disposition', `attachment; filename="usage-${period.id}.csv"`);
    return this.usage.exportCsv(rows);
  }
}
