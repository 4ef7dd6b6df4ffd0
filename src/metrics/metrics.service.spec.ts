import type pg from 'pg';
import { parsePrometheusText, valueOf } from '../../test/helpers/prometheus-text';
import type { CacheService } from '../cache/cache.service';
import type { AppConfig } from '../config/app-config';
import type { DatabasePools } from '../database/pg/database-pools';
import { DatabasePoolsSnapshot, PoolStats } from '../database/pool-stats';
import type { RateCounters } from '../rate-limits/rate-counters';
import type { RequestRateLimiter } from '../rate-limits/request-rate-limiter';
import type { StorageService } from '../storage/storage.service';
import { MetricsService } from './metrics.service';

describe(MetricsService.name, () => {
  /** Two dedicated databases open beside the shared pool, after some churn. */
  const databases: DatabasePoolsSnapshot = {
    budget: 20,
    perDatabaseMax: 2,
    reserved: 14,
    pools: [
      { database: 'shared', total: 3, idle: 1, waiting: 0, max: 10, inUse: 2, lastUsedMs: 1 },
      { database: 'eu-big-1', total: 2, idle: 0, waiting: 1, max: 2, inUse: 1, lastUsedMs: 2 },
      { database: 'eu-big-2', total: 1, idle: 1, waiting: 0, max: 2, inUse: 0, lastUsedMs: 3 },
    ],
    closing: 0,
    opened: 7,
    evicted: 4,
    closedIdle: 1,
    waitingForRoom: 3,
  };

  function scrapeWith(pools: DatabasePools | undefined) {
    const shared = { totalCount: 3, idleCount: 1, waitingCount: 0, options: { max: 10 } } as unknown as pg.Pool;
    const sut = new MetricsService(
      { metrics: { tenantLabelLimit: 10 } } as AppConfig,
      new PoolStats(shared, pools),
      { metrics: () => ({ driver: 'memory', serving: true, hits: 0, misses: 0, errors: 0, bypassed: 0 }) } as unknown as CacheService,
      { driverName: 'local', errorCounts: () => [] } as unknown as StorageService,
      { stats: { rejected: new Map() } } as unknown as RequestRateLimiter,
      { storeFailures: 0 } as unknown as RateCounters,
    );
    return sut.scrape().then(parsePrometheusText);
  }

  it('reports the pool manager: open pools, budget, reservations, connections by database, evictions, idle closes, waiting callers', async () => {
    const scraped = await scrapeWith({ snapshot: () => databases } as DatabasePools);
    expect(valueOf(scraped, 'db_pools_open')).toBe(3);
    expect(valueOf(scraped, 'db_pools_budget_connections')).toBe(20);
    expect(valueOf(scraped, 'db_pools_reserved_connections')).toBe(14);
    expect(valueOf(scraped, 'db_pools_connections', { database: 'shared' })).toBe(3);
    expect(valueOf(scraped, 'db_pools_connections', { database: 'eu-big-1' })).toBe(2);
    expect(valueOf(scraped, 'db_pools_connections', { database: 'eu-big-2' })).toBe(1);
    expect(valueOf(scraped, 'db_pools_opened_total')).toBe(7);
    expect(valueOf(scraped, 'db_pools_evictions_total')).toBe(4);
    expect(valueOf(scraped, 'db_pools_idle_closes_total')).toBe(1);
    expect(valueOf(scraped, 'db_pools_callers_waiting')).toBe(3);
    // The shared pool's own series are unchanged.
    expect(valueOf(scraped, 'db_pool_connections')).toBe(3);
    expect(valueOf(scraped, 'db_pool_connections_max')).toBe(10);
  });

  it('reports no pool manager series without one (positive control: the shared pool\'s still there)', async () => {
    const scraped = await scrapeWith(undefined);
    expect(scraped.samples.filter((s) => s.name.startsWith('db_pools_') && s.value !== 0)).toEqual([]);
    expect(valueOf(scraped, 'db_pools_connections', { database: 'shared' })).toBeUndefined();
    expect(valueOf(scraped, 'db_pool_connections')).toBe(3);
  });
});
