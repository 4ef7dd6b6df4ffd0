import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { AppConfig } from '../config/app-config';
import { DatabaseProbe } from './database-probe';
import { createPool } from './pg/pool';
import { PoolStats } from './pool-stats';
import { SystemDb } from './system-db';
import { createTenantDb, TenantDb } from './tenant-db';
import { Transactions } from './transactions';

/** Private to this module: feature code can inject TenantDb or SystemDb, never the pool. */
const POOL = Symbol('pg.Pool');

@Injectable()
class PoolCloser implements OnApplicationShutdown {
  constructor(@Inject(POOL) private readonly pool: pg.Pool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
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
    { provide: TenantDb, inject: [POOL], useFactory: (pool: pg.Pool) => createTenantDb(pool) },
    { provide: SystemDb, inject: [POOL], useFactory: (pool: pg.Pool) => new SystemDb(pool) },
    { provide: Transactions, inject: [SystemDb], useFactory: (systemDb: SystemDb) => new Transactions(systemDb) },
    { provide: PoolStats, inject: [POOL], useFactory: (pool: pg.Pool) => new PoolStats(pool) },
    { provide: DatabaseProbe, inject: [POOL], useFactory: (pool: pg.Pool) => new DatabaseProbe(pool) },
    PoolCloser,
  ],
  exports: [TenantDb, SystemDb, Transactions, PoolStats, DatabaseProbe],
})
export class DatabaseModule {}
