import type pg from 'pg';
import type { DatabasePools, DatabasePoolsSnapshot } from './pg/database-pools';

export type { DatabasePoolSnapshot, DatabasePoolsSnapshot } from './pg/database-pools';

export interface PoolStatsSnapshot {
  /** Connections open (idle + checked out). */
  total: number;
  idle: number;
  /** Callers queued for a connection because all `max` are checked out. */
  waiting: number;
  max: number;
}

/**
 * A read-only view of the runtime pools for GET /metrics: the pools themselves
 * stay private to DatabaseModule, so metrics code cannot run a query through them.
 */
export class PoolStats {
  constructor(
    private readonly pool: pg.Pool,
    private readonly pools?: DatabasePools,
  ) {}

  /** The shared pool (DATABASE_URL's). */
  snapshot(): PoolStatsSnapshot {
    const { totalCount, idleCount, waitingCount, options } = this.pool;
    return { total: totalCount, idle: idleCount, waiting: waitingCount, max: options.max ?? 10 };
  }

  /** Every open pool, shared and dedicated, within the pool budget; undefined without a pool manager. */
  databases(): DatabasePoolsSnapshot | undefined {
    return this.pools?.snapshot();
  }
}
