import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { CacheService } from './cache.service';
import { LruCacheDriver } from './lru-cache.driver';
import { RedisCacheDriver } from './redis-cache.driver';

/** Builds the cache on the configured driver: Redis when REDIS_URL or REDIS_CLUSTER_NODES is set, else the in-process LRU. */
export function createCacheService(config: AppConfig): CacheService {
  const options = { defaultTtlMs: config.cache.ttlSeconds * 1000, startupWaitMs: config.cache.redisConnectTimeoutMs };
  if (!config.cache.redis) return new CacheService(new LruCacheDriver(config.cache.lruMaxEntries), options);

  let service: CacheService | undefined;
  const driver = new RedisCacheDriver({
    target: config.cache.redis,
    commandTimeoutMs: config.cache.redisCommandTimeoutMs,
    connectTimeoutMs: config.cache.redisConnectTimeoutMs,
    onConnectionError: (error) => service?.noteConnectionError(error),
  });
  service = new CacheService(driver, options);
  return service;
}

@Global()
@Module({
  providers: [{ provide: CacheService, inject: [AppConfig], useFactory: createCacheService }],
  exports: [CacheService],
})
export class CacheModule {}
