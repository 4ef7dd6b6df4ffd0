import { Controller, Get } from '@nestjs/common';
import { CacheService } from '../cache/cache.service';
import { StorageService } from '../storage/storage.service';
import { PlatformAdminRoute, PublicRoute } from '../access/route-access.decorator';

@PublicRoute()
@Controller('health')
export class HealthController {
  constructor(
    private readonly cache: CacheService,
    private readonly storage: StorageService,
  ) {}

  @Get()
  health() {
    return { status: 'ok' };
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
