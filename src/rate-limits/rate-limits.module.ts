import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { createRedisClient, RedisConnection } from '../cache/redis-client';
import { AppConfig } from '../config/app-config';
import { RateCounters } from './rate-counters';
import { RecentRefusals } from './recent-refusals';
import { RequestRateLimiter } from './request-rate-limiter';

const RATE_LIMIT_REDIS = Symbol('RATE_LIMIT_REDIS');

/**
 * Rate limit counters on their own Redis connection (the cache's REDIS_URL or
 * REDIS_CLUSTER_NODES, and its timeouts), with auto-pipelining so a request's two
 * counters (tenant, API key) travel in one round trip. Its own connection so the
 * cache's commands never queue behind the limiter's, or the other way round. On a
 * cluster auto-pipelining keeps one pipeline per node: a tenant's two counters share
 * its slot, so still one round trip; sign-in counters (`p:sign-in:...`, each key its
 * own slot) go to their nodes in parallel, each a single-key command.
 */
function redisFor(config: AppConfig): RedisConnection | null {
  // null, not undefined: Nest treats a factory's undefined as a provider that was never resolved.
  if (!config.cache.redis) return null;
  const client = createRedisClient({
    target: config.cache.redis,
    commandTimeoutMs: config.cache.redisCommandTimeoutMs,
    connectTimeoutMs: config.cache.redisConnectTimeoutMs,
    connectionName: 'tenancy-api-rate-limits',
    autoPipelining: true,
  });
  // RateCounters notices failed commands (and logs them); without a listener ioredis reports every failed reconnect as unhandled.
  client.on('error', () => undefined);
  client.on('node error', () => undefined);
  return client;
}

class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(RATE_LIMIT_REDIS) private readonly client: RedisConnection | null) {}
  onApplicationShutdown(): void {
    this.client?.disconnect();
  }
}

@Global()
@Module({
  providers: [
    { provide: RATE_LIMIT_REDIS, inject: [AppConfig], useFactory: redisFor },
    { provide: RateCounters, inject: [RATE_LIMIT_REDIS], useFactory: (client: RedisConnection | null) => new RateCounters(client ?? undefined) },
    {
      provide: RequestRateLimiter,
      inject: [RateCounters, AppConfig],
      useFactory: (counters: RateCounters, config: AppConfig) => new RequestRateLimiter(counters, config.rateLimits),
    },
    { provide: RecentRefusals, inject: [RequestRateLimiter], useFactory: (limiter: RequestRateLimiter) => new RecentRefusals(limiter) },
    RedisCloser,
  ],
  exports: [RateCounters, RequestRateLimiter, RecentRefusals],
})
export class RateLimitsModule {}
