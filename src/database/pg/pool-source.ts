import pg from 'pg';
import { SHARED_DATABASE } from '../../config/env.schema';

/**
 * Where the data layer gets the pool of a database by name: "shared" (DATABASE_URL's) or a
 * dedicated one of the tenant directory. DatabasePools (the pool manager) is the implementation
 * with dedicated databases; a bare pg.Pool stands for a deployment with the shared database only.
 * While fn runs, the pool is in use and is not closed under it.
 */
export interface PoolSource {
  use<T>(database: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T>;
}

export class UnknownDatabaseError extends Error {
  constructor(database: string) {
    super(`No database "${database}" is registered (TENANT_DATABASES)`);
    this.name = 'UnknownDatabaseError';
  }
}

/** The shared database alone: any other name is refused (fail closed, never "use the shared one instead"). */
export function sharedOnly(pool: pg.Pool): PoolSource {
  return {
    use: (database, fn) => (database === SHARED_DATABASE ? fn(pool) : Promise.reject(new UnknownDatabaseError(database))),
  };
}

export function asPoolSource(source: pg.Pool | PoolSource): PoolSource {
  return source instanceof pg.Pool ? sharedOnly(source) : source;
}
