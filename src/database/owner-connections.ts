import { Logger } from '@nestjs/common';
import pg from 'pg';
import { UUID_PATTERN } from '../common/uuid';
import { SHARED_DATABASE, TenantDatabaseSettings } from '../config/env.schema';
import { createPool, inTransaction } from './pg/pool';

/**
 * The OWNER connections of this deployment's databases, for the platform operations that work on
 * one tenant's rows in every tenant table at once: erasure (tenant-erasure.ts: offboarding, the
 * source side of a move) and export/import (tenant-rows.ts). The runtime role cannot do these (it
 * may not delete the ledger nor insert with triggers off), and they never borrow its pools.
 *
 * The owner is held to the same isolation policies (FORCE ROW LEVEL SECURITY; the policies name it
 * since drizzle/0016), so every statement runs in a transaction that first sets the tenant
 * transaction-locally (asTenantOn): a statement can only ever see or touch that one tenant's rows.
 * The tenant is set with set_config, not tenancy_set(): the database is named by the caller, and
 * tenancy_set() would refuse a dedicated database whose anchor is already gone (a resumed deletion)
 * or the old database of a moved tenant.
 */

const logger = new Logger('SystemDb');

/** Every use is logged like SystemDb's platform operations (`system operation=<name> ...`). */
export function auditOwnerOperation(operation: string, fields: Record<string, string | number | undefined>): void {
  logger.log(`system operation=${operation}${Object.entries(fields).map(([key, value]) => (value === undefined ? '' : ` ${key}=${value}`)).join('')}`);
}

export function requireTenantId(tenantId: string): void {
  // Every statement carries it as a parameter; checked anyway so a typo fails before any connection.
  if (!UUID_PATTERN.test(tenantId)) throw new Error('a tenant id must be a UUID');
}

/** `fn` in one transaction on `pool` with `tenantId` set transaction-locally (the isolation policies then show only its rows). */
export function asTenantOn<T>(pool: pg.Pool, tenantId: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, null, async (client) => {
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
    return fn(client);
  });
}

/** Where a tenant's rows are: its id and the database of the directory holding them. */
export interface TenantPlacement {
  tenantId: string;
  database: string;
}

/**
 * A small pool of owner connections per database, by name ("shared" and the TENANT_DATABASES
 * entries), opened on first use and kept apart from the runtime pools: the owner is never lent to
 * request handling.
 */
export class OwnerConnections {
  private readonly pools = new Map<string, pg.Pool>();

  constructor(
    /** DATABASE_MIGRATION_URL; without it nothing here can run (a clear error, before anything is changed). */
    private readonly sharedOwnerUrl: string | undefined,
    private readonly dedicated: Readonly<Record<string, TenantDatabaseSettings>>,
    private readonly statementTimeoutMs: number,
  ) {}

  /** Whether an owner connection is configured for `database` (shared: DATABASE_MIGRATION_URL). */
  canReach(database: string): boolean {
    return database === SHARED_DATABASE ? this.sharedOwnerUrl !== undefined : Object.hasOwn(this.dedicated, database);
  }

  pool(database: string): pg.Pool {
    let pool = this.pools.get(database);
    if (pool) return pool;
    const url = database === SHARED_DATABASE ? this.sharedOwnerUrl : Object.hasOwn(this.dedicated, database) ? this.dedicated[database].migrationUrl : undefined;
    if (!url) {
      throw new Error(
        database === SHARED_DATABASE
          ? 'this operation on tenant data needs the owner connection of the shared database: set DATABASE_MIGRATION_URL'
          : `no database "${database}" is registered (TENANT_DATABASES): its owner connection (migrationUrl) is needed for this operation on tenant data`,
      );
    }
    // Three connections: erasure is sequential; an export holds one for its snapshot while a count or an import uses another.
    pool = createPool({ url, max: 3, statementTimeoutMs: this.statementTimeoutMs, applicationName: `tenancy-owner:${database}` });
    this.pools.set(database, pool);
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.end()));
  }
}
