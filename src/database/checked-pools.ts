import pg from 'pg';
import { SHARED_DATABASE } from '../config/env.schema';
import { assertSchemaCurrent } from './database-probe';
import { DatabasePools } from './pg/database-pools';
import { PoolSource } from './pg/pool-source';

/**
 * The pool manager as the data layer uses it: a dedicated database is asked once per pool whether its
 * schema has every migration this build has (assertSchemaCurrent, as the runtime role) before it serves
 * a statement; behind, the request gets 503 DATABASE_BEHIND and the next one asks again (so it serves
 * as soon as `migrate --all` reached it). The shared database is the readiness probe's to check.
 */
export function schemaCheckedPools(pools: DatabasePools, statementTimeoutMs: number): PoolSource {
  const current = new WeakSet<pg.Pool>();
  return {
    use: (database, fn) =>
      pools.use(database, async (pool) => {
        if (database !== SHARED_DATABASE && !current.has(pool)) {
          await assertSchemaCurrent(pool, database, { statementTimeoutMs });
          current.add(pool);
        }
        return fn(pool);
      }),
  };
}
