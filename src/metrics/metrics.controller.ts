import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation } from '../common/http/api-operation';
import { Registry } from 'prom-client';
import { PlatformAdminRoute } from '../access/route-access.decorator';
import { MetricsService } from './metrics.service';

/**
 * Prometheus scrape endpoint. Platform admin key only: tenant ids, route
 * volumes and pool state are operational detail, not for API clients.
 */
@PlatformAdminRoute()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('content-type', Registry.PROMETHEUS_CONTENT_TYPE)
  @ApiOperation({ id: 'metrics.scrape', summary: 'Prometheus metrics (text exposition format)', response: { mediaType: Registry.PROMETHEUS_CONTENT_TYPE } })
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
