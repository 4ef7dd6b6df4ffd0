import { Controller, Get, Res } from '@nestjs/common';
import { HealthCheckResult } from '@nestjs/terminus';
import { CacheService } from '../cache/cache.service';
import { StorageService } from '../storage/storage.service';
import { PlatformAdminRoute, PublicRoute } from '../access/route-access.decorator';
import { ReadinessService } from './readiness.service';

/** What both adapters' reply objects offer for setting the status code (Fastify's reply, Express' response). */
interface StatusReply {
  status(code: number): unknown;
}

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
  health() {
    return { status: 'ok' };
  }

  /**
   * Liveness: the process and its event loop answer. No dependency is asked: a
   * database outage must not make the orchestrator restart healthy processes.
   */
  @Get('live')
  live(): HealthCheckResult {
    return { status: 'ok', info: {}, error: {}, details: {} };
  }

  /** Readiness: 200 (ok or degraded) or 503; see ReadinessService. */
  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: StatusReply): Promise<HealthCheckResult> {
    const { statusCode, body } = await this.readiness.check();
    reply.status(statusCode);
    return body;
  }

  /**
   * Which drivers are in use and the cache counters (hits, misses, errors,
   * bypasses...). A cache outage is "degraded", not down: requests are served
   * from PostgreSQL. Platform admin only: counters are operational detail.
   */
  @Get('details')
  @PlatformAdminRoute()
  details() {
    const cache = this.cache.metrics();
    return {
      status: cache.serving ? 'ok' : 'degraded',
      cache,
      storage: { driver: this.storage.driverName },
    };
  }
}
