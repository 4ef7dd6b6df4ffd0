import pg from 'pg';
import { SHARED_DATABASE } from '../config/env.schema';
import { TenantVectorIndexes } from './tenant-vector-indexes';
import { asTenantOn, auditOwnerOperation, OwnerConnections, requireTenantId, TenantPlacement } from './owner-connections';
import { quoteIdentifier, tenantTablesOf } from './tenant-catalog';

/**
 * Deleting one tenant's data from a database: offboarding (src/lifecycle), and the source side of
 * a move once the copy is verified. Runs as the OWNER role of that database (DATABASE_MIGRATION_URL
 * for the shared one, each TENANT_DATABASES entry's migrationUrl), never as the runtime role: the
 * runtime role may not delete the append-only ledger (usage_events) nor `tenants` rows, and that
 * stays so. The owner is held to the same isolation policies (FORCE ROW LEVEL SECURITY; the policies
 * name it since drizzle/0016), so every statement here runs in a transaction that first sets the
 * tenant transaction-locally: a statement can only ever see or delete that one tenant's rows.
 *
 * The tenant is set with set_config, not tenancy_set(): the database is named explicitly by the
 * caller (not routed through the directory), and tenancy_set() would refuse exactly the cases this
 * exists for: a dedicated database whose anchor a first attempt already removed (a resumed deletion
 * must still count there), and the old database of a moved tenant (its rows are still there, its
 * placement already says elsewhere).
 *
 * Every use is logged like SystemDb's platform operations (`system operation=<name> ...`).
 */

/** Rows per tenant table, by table name (every tenant table of the database's catalog is listed, zeros included). */
export type TableCounts = Record<string, number>;

export interface EraseRowsOptions {
  /** Rows deleted per transaction (default 1000): a big tenant never holds locks for long, nor one giant transaction. */
  batchSize?: number;
  /** After each committed batch: how many rows it deleted from which table (a progress bar, a job's report). */
  onBatch?: (table: string, deleted: number) => void | Promise<void>;
}

const DEFAULT_BATCH_SIZE = 1000;

/**
 * How many rows `tenantId` has in every tenant table of the database behind `pool` (an owner
 * connection). Counted under the isolation policy with the tenant set, as the rows are deleted:
 * what this counts is what deleteTenantRowsOn can see, and a test proves it sees rows that exist.
 */
export async function countTenantRowsOn(pool: pg.Pool, tenantId: string): Promise<TableCounts> {
  requireTenantId(tenantId);
  return asTenantOn(pool, tenantId, async (client) => {
    const counts: TableCounts = {};
    for (const table of await tenantTablesOf(client)) {
      const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from public.${quoteIdentifier(table.name)} where tenant_id = $1`, [tenantId]);
      counts[table.name] = rows[0].n;
    }
    return counts;
  });
}

/**
 * Deletes every row of `tenantId` from every tenant table of the database behind `pool` (an owner
 * connection), children before parents (the reverse of tenantTablesOf's order, so no foreign key
 * trips), in batches of `batchSize` rows, each its own short transaction. Idempotent: a run cut
 * short (crash, timeout) has committed whole batches only, and running it again deletes the rest;
 * a run on a tenant with no rows deletes nothing. Returns the rows it deleted per table.
 */
export async function deleteTenantRowsOn(pool: pg.Pool, tenantId: string, options: EraseRowsOptions = {}): Promise<TableCounts> {
  requireTenantId(tenantId);
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be a positive integer');
  const tables = await tenantTablesOf(pool);
  const deleted: TableCounts = Object.fromEntries(tables.map((table) => [table.name, 0]));
  for (const table of [...tables].reverse()) {
    const name = `public.${quoteIdentifier(table.name)}`;
    for (;;) {
      // ctid: the physical row, whatever the table's key; a row moved by a concurrent update is
      // skipped by this batch and found by the next one.
      const count = await asTenantOn(pool, tenantId, async (client) => {
        const result = await client.query(
          `delete from ${name} where tenant_id = $1 and ctid = any(array(select ctid from ${name} where tenant_id = $1 limit $2))`,
          [tenantId, batchSize],
        );
        return result.rowCount ?? 0;
      });
      if (count === 0) break;
      deleted[table.name] += count;
      await options.onBatch?.(table.name, count);
    }
  }
  return deleted;
}

/**
 * Removes the tenant's directory rows on the database behind `pool` (an owner connection): its
 * `tenants` row (on the shared database, the tenant itself; on a dedicated one, its anchor). Any
 * tenant row still there goes with it (the foreign keys cascade), so call it after
 * deleteTenantRowsOn, which keeps transactions small. Idempotent; true when a row was deleted.
 */
export async function deleteTenantRecordOn(pool: pg.Pool, tenantId: string): Promise<boolean> {
  requireTenantId(tenantId);
  // The cascade reaches tenant tables, whose policies need the tenant set for the owner.
  return asTenantOn(pool, tenantId, async (client) => ((await client.query('delete from public.tenants where id = $1', [tenantId])).rowCount ?? 0) > 0);
}

/** Whether the database behind `pool` still has a `tenants` row (the tenant, or its anchor) for tenantId. */
export async function tenantRecordExistsOn(pool: pg.Pool, tenantId: string): Promise<boolean> {
  requireTenantId(tenantId);
  const { rows } = await pool.query<{ found: boolean }>('select exists (select 1 from public.tenants where id = $1) as found', [tenantId]);
  return rows[0].found;
}

export type { TenantPlacement };

/**
 * The erasure operations on the databases of this deployment, by name ("shared" and the
 * TENANT_DATABASES entries), each through a small pool of owner connections opened on first use
 * (kept apart from the runtime pools: the owner is never lent to request handling). Each call is
 * a named, logged platform operation.
 */
export class TenantErasure {
  constructor(
    private readonly owners: OwnerConnections,
    private readonly vectorIndexes: TenantVectorIndexes,
  ) {}

  /** Whether an owner connection is configured for `database` (shared: DATABASE_MIGRATION_URL). */
  canErase(database: string): boolean {
    return this.owners.canReach(database);
  }

  async countRows(placement: TenantPlacement): Promise<TableCounts> {
    auditOwnerOperation('tenants.erasure.count-rows', { forTenant: placement.tenantId, database: placement.database });
    return countTenantRowsOn(this.ownerPool(placement.database), placement.tenantId);
  }

  async deleteRows(placement: TenantPlacement, options: EraseRowsOptions = {}): Promise<TableCounts> {
    auditOwnerOperation('tenants.erasure.delete-rows', { forTenant: placement.tenantId, database: placement.database });
    const deleted = await deleteTenantRowsOn(this.ownerPool(placement.database), placement.tenantId, options);
    // Its per-tenant HNSW indexes (semantic search) are empty now, and their names still carry its id.
    await this.vectorIndexes.drop(placement);
    auditOwnerOperation('tenants.erasure.delete-rows.done', { forTenant: placement.tenantId, database: placement.database, rows: Object.values(deleted).reduce((a, b) => a + b, 0) });
    return deleted;
  }

  /**
   * The tenant's records in the directory: its anchor on a dedicated database (first: the shared
   * row is what makes the tenant known, so it goes last), then its row on the shared database.
   */
  async deleteTenantRecords(placement: TenantPlacement): Promise<{ anchor: boolean; tenant: boolean }> {
    auditOwnerOperation('tenants.erasure.delete-tenant', { forTenant: placement.tenantId, database: placement.database });
    const anchor = placement.database === SHARED_DATABASE ? false : await deleteTenantRecordOn(this.ownerPool(placement.database), placement.tenantId);
    const tenant = await deleteTenantRecordOn(this.ownerPool(SHARED_DATABASE), placement.tenantId);
    return { anchor, tenant };
  }

  /** Whether the tenant's row (shared) and its anchor (dedicated) are still there. */
  async tenantRecordsLeft(placement: TenantPlacement): Promise<{ anchor: boolean; tenant: boolean }> {
    const anchor = placement.database === SHARED_DATABASE ? false : await tenantRecordExistsOn(this.ownerPool(placement.database), placement.tenantId);
    return { anchor, tenant: await tenantRecordExistsOn(this.ownerPool(SHARED_DATABASE), placement.tenantId) };
  }

  private ownerPool(database: string): pg.Pool {
    return this.owners.pool(database);
  }
}
