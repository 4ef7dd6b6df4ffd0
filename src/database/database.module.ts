import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { AppConfig } from '../config/app-config';
import { DatabaseProbe } from './database-probe';
import { DatabasePools, dedicatedPoolMax } from './pg/database-pools';
import { schemaCheckedPools } from './checked-pools';
import { CONNECTION_WAIT_MS, createPool } from './pg/pool';
import { PoolSource } from './pg/pool-source';
import { PoolStats } from './pool-stats';
import { QueueConnection } from './queue-connection';
import { SystemDb } from './system-db';
import { TenantDatabases } from './tenant-databases';
import { OwnerConnections } from './owner-connections';
import { TenantVectorIndexes } from './tenant-vector-indexes';
import { TenantErasure } from './tenant-erasure';
import { TenantRows } from './tenant-rows';
import { createTenantDb, TenantDb } from './tenant-db';
import { Transactions } from './transactions';
import { VectorEngine } from './vector-engine';

/** Private to this module: feature code can inject TenantDb or SystemDb, never the pool. */
const POOL = Symbol('pg.Pool');
/** The pool manager with the schema check on first use of a dedicated database (private too). */
const ROUTED_POOLS = Symbol('PoolSource');

@Injectable()
class PoolCloser implements OnApplicationShutdown {
  constructor(
    @Inject(POOL) private readonly pool: pg.Pool,
    private readonly pools: DatabasePools,
    private readonly owners: OwnerConnections,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    // The owner connections of tenant erasure and export/import (opened only by those operations),
    // then the dedicated pools: the shared pool is not the manager's to end.
    await this.owners.close();
    await this.pools.close();
    await this.pool.end();
  }
}

/** DatabasePools' openPool: a pool on a dedicated database of TENANT_DATABASES, as the shared pool is made. */
function dedicatedPoolOpener(config: AppConfig): (name: string, max: number) => pg.Pool {
  return (name, max) => {
    // Own keys only: a name such as "constructor" must not find Object's prototype.
    if (!Object.hasOwn(config.database.dedicated, name)) throw new Error(`no database named "${name}" in TENANT_DATABASES`);
    return createPool({
      url: config.database.dedicated[name].url,
      max,
      statementTimeoutMs: config.database.statementTimeoutMs,
      applicationName: `tenancy-api:${name}`,
      pooler: config.database.pooler,
    });
  };
}

@Global()
@Module({
  providers: [
    {
      provide: POOL,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        createPool({
          url: config.database.url,
          max: config.database.poolSize,
          statementTimeoutMs: config.database.statementTimeoutMs,
          applicationName: 'tenancy-api',
          // TenantDb, SystemDb and their transactions read it back from the pool (poolingOf).
          pooler: config.database.pooler,
        }),
    },
    {
      provide: DatabasePools,
      inject: [POOL, AppConfig],
      useFactory: (pool: pg.Pool, config: AppConfig) => {
        const { budget, perDatabaseMax: configured } = config.database.pools;
        const databases = Object.keys(config.database.dedicated).length;
        const perDatabaseMax = dedicatedPoolMax({ budget, sharedMax: config.database.poolSize, perDatabaseMax: configured, databases });
        if (perDatabaseMax < configured) {
          new Logger('DatabasePools').log(
            `each dedicated database's pool holds up to ${perDatabaseMax} connections, not DB_POOL_SIZE_PER_DATABASE=${configured}: ` +
              `so that the ${databases} registered databases fit DB_POOL_BUDGET=${budget} beside the shared pool (raise the budget for more)`,
          );
        }
        return new DatabasePools(pool, dedicatedPoolOpener(config), { ...config.database.pools, perDatabaseMax, waitTimeoutMs: CONNECTION_WAIT_MS });
      },
    },
    {
      provide: ROUTED_POOLS,
      inject: [DatabasePools, AppConfig],
      useFactory: (pools: DatabasePools, config: AppConfig) => schemaCheckedPools(pools, config.database.statementTimeoutMs),
    },
    // Each tenant's statements on its database's pool (the tenant directory, docs/scale-out.md).
    { provide: TenantDb, inject: [ROUTED_POOLS], useFactory: (pools: PoolSource) => createTenantDb(pools) },
    {
      provide: SystemDb,
      inject: [POOL, ROUTED_POOLS, AppConfig],
      useFactory: (pool: pg.Pool, pools: PoolSource, config: AppConfig) => new SystemDb(pool, pools, Object.keys(config.database.dedicated).sort()),
    },
    { provide: TenantDatabases, inject: [AppConfig], useFactory: (config: AppConfig) => new TenantDatabases(config.database.dedicated) },
    // Owner connections for deleting, exporting and importing a tenant's data: never the runtime pools.
    {
      provide: OwnerConnections,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new OwnerConnections(config.database.migrationUrl, config.database.dedicated, config.database.statementTimeoutMs),
    },
    {
      provide: TenantVectorIndexes,
      inject: [OwnerConnections],
      useFactory: (owners: OwnerConnections) => new TenantVectorIndexes(owners),
    },
    {
      provide: TenantErasure,
      inject: [OwnerConnections, TenantVectorIndexes],
      useFactory: (owners: OwnerConnections, vectorIndexes: TenantVectorIndexes) => new TenantErasure(owners, vectorIndexes),
    },
    { provide: TenantRows, inject: [OwnerConnections], useFactory: (owners: OwnerConnections) => new TenantRows(owners) },
    { provide: Transactions, inject: [SystemDb], useFactory: (systemDb: SystemDb) => new Transactions(systemDb) },
    { provide: PoolStats, inject: [POOL, DatabasePools], useFactory: (pool: pg.Pool, pools: DatabasePools) => new PoolStats(pool, pools) },
    { provide: DatabaseProbe, inject: [POOL], useFactory: (pool: pg.Pool) => new DatabaseProbe(pool) },
    // The job queue's statements (src/jobs), on the shared pool: the queue lives on the shared database only.
    { provide: QueueConnection, inject: [POOL], useFactory: (pool: pg.Pool) => new QueueConnection(pool) },
    PoolCloser,
    // Which semantic search engine each database offers (pgvector HNSW or the exact scan), detected at boot.
    VectorEngine,
  ],
  exports: [TenantDb, SystemDb, Transactions, PoolStats, DatabaseProbe, TenantDatabases, QueueConnection, OwnerConnections, TenantErasure, TenantRows, VectorEngine, TenantVectorIndexes],
})
export class DatabaseModule {}
