import type pg from 'pg';

export interface PoolStatsSnapshot {
  /** Connections open (idle + checked out). */
  total: number;
  idle: number;
  /** Callers queued for a connection because all `max` are checked out. */
  waiting: number;
  max: number;
}

/**
 * A read-only view of the runtime pool for GET /metrics: the pool itself stays
 * private to DatabaseModule, so metrics code cannot run a query through it.
 */
export class PoolStats {
  constructor(private readonly pool: pg.Pool) {}

  snapshot(): PoolStatsSnapshot {
    const { totalCount, idleCount, waitingCount, options } = this.pool;
    return { total: totalCount, idle: idleCount, waiting: waitingCount, max: options.max ?? 10 };
  }
}
