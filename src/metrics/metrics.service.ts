import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CacheService } from '../cache/cache.service';
import { AppConfig } from '../config/app-config';
import { PoolStats } from '../database/pool-stats';
import { RateCounters } from '../rate-limits/rate-counters';
import { RequestRateLimiter } from '../rate-limits/request-rate-limiter';
import { StorageService } from '../storage/storage.service';
import { TenantLabels } from './tenant-labels';

/** The route label of a request no route matched (404s, requests refused before routing). */
export const UNMATCHED_ROUTE = '(unmatched)';

/** Methods outside this set share one label value: clients choose the method, so it is not bounded otherwise. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface ObservedRequest {
  method: string;
  /** The route template (`/documents/:id`), never the raw URL; undefined when no route matched. */
  route: string | undefined;
  statusCode: number;
  durationSeconds: number;
  /** Set once AccessGuard resolved the tenant (tenant and sign-in routes). */
  tenantId: string | undefined;
}

/**
 * Prometheus metrics of this app instance (README "Operations" lists them).
 * One Registry per instance, not prom-client's global one: tests run several
 * apps in one process, and each must report only its own requests. Request
 * metrics are pushed by the HTTP layer (http-metrics.ts); everything else is
 * read from its owner at scrape time, so there is no second set of counters
 * to keep in step.
 */
@Injectable()
export class MetricsService implements OnApplicationShutdown {
  private readonly registry = new Registry();
  private readonly tenants: TenantLabels;
  private readonly requests: Counter<'method' | 'route' | 'status_code'>;
  private readonly duration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly tenantRequests: Counter<'tenant'>;
  private readonly tenantErrors: Counter<'tenant' | 'status_class'>;

  constructor(config: AppConfig, pool: PoolStats, cache: CacheService, storage: StorageService, rateLimiter: RequestRateLimiter, rateCounters: RateCounters) {
    const registers = [this.registry];
    this.tenants = new TenantLabels(config.metrics.tenantLabelLimit);
    collectDefaultMetrics({ register: this.registry });

    const httpLabels = ['method', 'route', 'status_code'] as const;
    this.requests = new Counter({ name: 'http_server_requests_total', help: 'HTTP requests answered, by route template', labelNames: httpLabels, registers });
    this.duration = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Time from receiving the request to finishing the response, by route template',
      labelNames: httpLabels,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.tenantRequests = new Counter({
      name: 'tenant_http_requests_total',
      help: 'HTTP requests of a resolved tenant; tenant="other" past METRICS_TENANT_LABEL_LIMIT tenants',
      labelNames: ['tenant'],
      registers,
    });
    this.tenantErrors = new Counter({
      name: 'tenant_http_request_errors_total',
      help: 'HTTP requests of a resolved tenant answered 4xx or 5xx; tenant="other" past METRICS_TENANT_LABEL_LIMIT tenants',
      labelNames: ['tenant', 'status_class'],
      registers,
    });

    const poolGauge = (name: string, help: string, read: (stats: ReturnType<PoolStats['snapshot']>) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(pool.snapshot()));
        },
      });
    poolGauge('db_pool_connections', 'Open connections of the runtime pool (idle and checked out)', (s) => s.total);
    poolGauge('db_pool_connections_idle', 'Idle connections of the runtime pool', (s) => s.idle);
    poolGauge('db_pool_clients_waiting', 'Callers queued for a connection because every one is checked out', (s) => s.waiting);
    poolGauge('db_pool_connections_max', 'Size limit of the runtime pool (DB_POOL_SIZE)', (s) => s.max);

    // The pool manager: the shared pool and the dedicated databases' pools within DB_POOL_BUDGET.
    // The database label takes only names of TENANT_DATABASES (and "shared"): bounded by the registry.
    type Databases = NonNullable<ReturnType<PoolStats['databases']>>;
    const databasesGauge = (name: string, help: string, read: (pools: Databases) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const pools = pool.databases();
          if (pools) this.set(read(pools));
        },
      });
    const databasesCounter = (name: string, help: string, read: (pools: Databases) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          const pools = pool.databases();
          this.reset();
          if (pools) this.inc(read(pools));
        },
      });
    databasesGauge('db_pools_open', 'Open database pools, the shared one included', (p) => p.pools.length);
    databasesGauge('db_pools_budget_connections', 'Connections all pools together may hold (DB_POOL_BUDGET)', (p) => p.budget);
    databasesGauge('db_pools_per_database_max_connections', "Connections one dedicated database's pool may hold (DB_POOL_SIZE_PER_DATABASE, lowered so every registered database fits the budget)", (p) => p.perDatabaseMax);
    databasesGauge('db_pools_reserved_connections', 'Sum of the size limits of the open pools and of those still closing; never above the budget', (p) => p.reserved);
    databasesGauge('db_pools_callers_waiting', 'Callers waiting for room under the budget to open their database\'s pool (every open pool in use)', (p) => p.waitingForRoom);
    databasesCounter('db_pools_opened_total', 'Dedicated database pools opened', (p) => p.opened);
    databasesCounter('db_pools_evictions_total', 'Idle dedicated pools closed to make room for another database\'s pool', (p) => p.evicted);
    databasesCounter('db_pools_idle_closes_total', 'Dedicated pools closed after DB_POOL_IDLE_CLOSE_MS unused', (p) => p.closedIdle);
    new Gauge({
      name: 'db_pools_connections',
      help: 'Open connections (idle and checked out) of each open pool, by database',
      labelNames: ['database'],
      registers,
      collect() {
        this.reset();
        for (const { database, total } of pool.databases()?.pools ?? []) this.set({ database }, total);
      },
    });

    // The cache counts since start; a counter is re-set to that total at each scrape.
    const cacheCounter = (name: string, help: string, read: (metrics: ReturnType<CacheService['metrics']>) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['driver'],
        registers,
        collect() {
          const metrics = cache.metrics();
          this.reset();
          this.inc({ driver: metrics.driver }, read(metrics));
        },
      });
    cacheCounter('cache_hits_total', 'Cache reads answered from the store', (m) => m.hits);
    cacheCounter('cache_misses_total', 'Cache reads that loaded from PostgreSQL and stored the value', (m) => m.misses);
    cacheCounter('cache_errors_total', 'Cache store failures (commands and connection errors); requests fell back to PostgreSQL', (m) => m.errors);
    cacheCounter('cache_bypassed_total', 'Cache work skipped because the store was unavailable (served from PostgreSQL)', (m) => m.bypassed);
    new Gauge({
      name: 'cache_serving',
      help: '1 while reads are served from the cache store, 0 while they bypass it (store down or invalidations to replay)',
      labelNames: ['driver'],
      registers,
      collect() {
        const metrics = cache.metrics();
        this.reset();
        this.set({ driver: metrics.driver }, metrics.serving ? 1 : 0);
      },
    });

    new Counter({
      name: 'storage_errors_total',
      help: 'File storage failures: backend unavailable (answered 503) or an object missing behind its metadata row',
      labelNames: ['driver', 'operation', 'kind'],
      registers,
      collect() {
        this.reset();
        // Present at 0 from the start, so rate() and alerts see the series before the first failure.
        this.inc({ driver: storage.driverName, operation: 'put', kind: 'unavailable' }, 0);
        for (const { operation, kind, count } of storage.errorCounts()) this.inc({ driver: storage.driverName, operation, kind }, count);
      },
    });
    new Counter({
      name: 'rate_limited_requests_total',
      help: 'Requests refused with 429 by a rate limit: limit (tenant, tenant_second, api_key, sign_in) and where the count was kept (redis: shared; memory: this instance alone)',
      labelNames: ['limit', 'store'],
      registers,
      collect() {
        this.reset();
        this.inc({ limit: 'tenant', store: 'redis' }, 0);
        for (const [key, count] of rateLimiter.stats.rejected) {
          const [limit, store] = key.split('|');
          this.inc({ limit, store }, count);
        }
      },
    });
    new Counter({
      name: 'rate_limit_store_errors_total',
      help: 'Rate limit counter commands that failed on Redis (those requests were counted in process)',
      registers,
      collect() {
        this.reset();
        this.inc(rateCounters.storeFailures);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** Called once per response, errors included (http-metrics.ts). */
  observe(request: ObservedRequest): void {
    const status = String(request.statusCode);
    const labels = {
      method: KNOWN_METHODS.has(request.method) ? request.method : '_OTHER',
      route: request.route ?? UNMATCHED_ROUTE,
      status_code: status,
    };
    this.requests.inc(labels);
    this.duration.observe(labels, request.durationSeconds);
    if (request.tenantId === undefined) return;
    const tenant = this.tenants.labelFor(request.tenantId);
    this.tenantRequests.inc({ tenant });
    if (request.statusCode >= 400) this.tenantErrors.inc({ tenant, status_class: `${status[0]}xx` });
  }

  onApplicationShutdown(): void {
    this.registry.clear();
  }
}
