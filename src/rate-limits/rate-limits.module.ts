import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { createRedisClient } from '../cache/redis-client';
import { AppConfig } from '../config/app-config';
import { RateCounters } from './rate-counters';
import { RequestRateLimiter } from './request-rate-limiter';

const RATE_LIMIT_REDIS = Symbol('RATE_LIMIT_REDIS');

/**
 * Rate limit counters on their own Redis connection (the cache's REDIS_URL and
 * timeouts), with auto-pipelining so a request's two counters (tenant, API key)
 * travel in one round trip. Its own connection so the cache's commands never
 * queue behind the limiter's, or the other way round.
 */
function redisFor(config: AppConfig): Redis | null {
  // null, not undefined: Nest treats a factory's undefined as a provider that was never resolved.
  if (!config.cache.redisUrl) return null;
  const client = createRedisClient({
    url: config.cache.redisUrl,
    commandTimeoutMs: config.cache.redisCommandTimeoutMs,
    connectTimeoutMs: config.cache.redisConnectTimeoutMs,
    connectionName: 'tenancy-api-rate-limits',
    autoPipelining: true,
  });
  // RateCounters notices failed commands (and logs them); without a listener ioredis reports every failed reconnect as unhandled.
  client.on('error', () => undefined);
  return client;
}

class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(RATE_LIMIT_REDIS) private readonly client: Redis | null) {}
  onApplicationShutdown(): void {
    this.client?.disconnect();
  }
}

@Global()
@Module({
  providers: [
    { provide: RATE_LIMIT_REDIS, inject: [AppConfig], useFactory: redisFor },
    { provide: RateCounters, inject: [RATE_LIMIT_REDIS], useFactory: (client: Redis | null) => new RateCounters(client ?? undefined) },
    {
      provide: RequestRateLimiter,
      inject: [RateCounters, AppConfig],
      useFactory: (counters: RateCounters, config: AppConfig) => new RequestRateLimiter(counters, config.rateLimits),
    },
    RedisCloser,
  ],
  exports: [RateCounters, RequestRateLimiter],
})
export class RateLimitsModule {}
