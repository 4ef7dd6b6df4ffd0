import { Controller, Get, Res } from '@nestjs/common';
import { HealthCheckResult } from '@nestjs/terminus';
import { CacheService } from '../cache/cache.service';
import { StorageService } from '../storage/storage.service';
import { PlatformAdminRoute, PublicRoute } from '../access/route-access.decorator';
import { ApiOperation } from '../common/http/api-operation';
import { healthCheckResult, healthDetails, healthStatus } from './health.schemas';
import { ReadinessService } from './readiness.service';
import { ReplyWithHeaders, ReplyWithStatus } from '../common/http/reply';

/** Seconds a load balancer or client should wait before asking a not-ready instance again. */
const NOT_READY_RETRY_AFTER_SECONDS = '1';

@PublicRoute()
@Controller('health')
export class HealthController {
  constructor(
    private readonly cache: CacheService,
    private readonly storage: StorageService,
    private readonly readiness: ReadinessService,
  ) {}

  /** Kept for existing users (load balancers, uptime checks): the process answers; same meaning as /health/live. */
  @Get()
  @ApiOperation({ id: 'health.status', summary: 'The process answers (same meaning as /health/live)', response: { schema: healthStatus } })
  health() {
    return { status: 'ok' };
  }

  /**
   * Liveness: the process and its event loop answer. No dependency is asked: a
   * database outage must not make the orchestrator restart healthy processes.
   */
  @Get('live')
  @ApiOperation({ id: 'health.live', summary: 'Liveness: the process answers; no dependency is asked', response: { schema: healthCheckResult } })
  live(): HealthCheckResult {
    return { status: 'ok', info: {}, error: {}, details: {} };
  }

  /** Readiness: 200 (ok or degraded) or 503; see ReadinessService. */
  @Get('ready')
  @ApiOperation({
    id: 'health.ready',
    summary: 'Readiness: PostgreSQL as the runtime role and current migrations (Redis and S3 reported, degraded is still 200)',
    description:
      'Answers 503 with the same HealthCheckResult body (not the error envelope) and Retry-After when a required check is down or the instance is shutting down.',
    response: { schema: healthCheckResult },
  })
  async ready(@Res({ passthrough: true }) reply: ReplyWithStatus & ReplyWithHeaders): Promise<HealthCheckResult> {
    const { statusCode, body } = await this.readiness.check();
    reply.status(statusCode);
    // Like every 503 of this API: a slow database under load is usually back within the second.
    if (statusCode === 503) reply.header('retry-after', NOT_READY_RETRY_AFTER_SECONDS);
    return body;
  }

  /**
   * Which drivers are in use and the cache counters (hits, misses, errors,
   * bypasses...). A cache outage is "degraded", not down: requests are served
   * from PostgreSQL. Platform admin only: counters are operational detail.
   */
  @Get('details')
  @PlatformAdminRoute()
  @ApiOperation({ id: 'health.details', summary: 'Cache and storage drivers and cache counters', response: { schema: healthDetails } })
  details() {
    const cache = this.cache.metrics();
    return {
      status: cache.serving ? 'ok' : 'degraded',
      cache,
      storage: { driver: this.storage.driverName },
    };
  }
}
