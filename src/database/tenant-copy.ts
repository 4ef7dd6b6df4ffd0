import pg from 'pg';
import { asTenantOn, requireTenantId } from './owner-connections';
import { withClient } from './pg/pool';
import { quoteIdentifier, tenantTablesOf } from './tenant-catalog';
import type { UserCopy } from './tenant-rows';

/**
 * The database side of moving one tenant between databases (src/lifecycle/tenant-move.service.ts,
 * README "Moving a tenant"): pause, barrier, the directory entries, the verification's checksums.
 * The copy itself is TenantRows.copy (tenant-rows.ts), the same row streaming as export and
 * import. Every function runs on OWNER connections (OwnerConnections.pool) of
 * the database it names, under the isolation policies with the tenant set transaction-locally, as
 * erasure does: a statement here can only see or write that one tenant's rows. Nothing here is
 * reachable from a request's input: the move service names the databases from the directory and
 * the configuration.
 */

/** The move's advisory key, as tenancy_set() (drizzle/0022) computes it: two int4 keys. */
const MOVE_LOCK_KEY = "pg_catalog.hashtext('tenancy.move'), pg_catalog.hashtext($1::text)";
/**
 * Fixed session formats for the row texts compared by the checksums (row_to_json): the two
 * databases may be on servers with another TimeZone or IntervalStyle, which would change the
 * text of equal values. Transaction-local.
 */
const STABLE_TEXT_SETTINGS =
  "select set_config('TimeZone', 'UTC', true), set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true), set_config('DateStyle', 'ISO, MDY', true)";

/**
 * Pauses (state 'paused') or resumes (null) the tenant's writes on the database behind `pool`:
 * tenancy_set() there makes its transactions read only while paused. Idempotent. Returns whether
 * the database has the tenant's row (the tenant on shared, its anchor on a dedicated database).
 */
export async function setMoveStateOn(pool: pg.Pool, tenantId: string, state: 'paused' | null): Promise<boolean> {
  requireTenantId(tenantId);
  const result = await pool.query('update public.tenants set move_state = $2, updated_at = now() where id = $1', [tenantId, state]);
  return (result.rowCount ?? 0) > 0;
}

/**
 * The barrier: takes the tenant's move lock exclusively on the database behind `pool`, which
 * waits until every transaction of the tenant that entered before it (each holds the lock shared,
 * tenancy_set) has ended, then lets it go. Called after the pause committed: any transaction that
 * enters later sees the pause (or fails the try-lock while this waits) and is read only. So once
 * this returns, no write of the tenant can still commit on that database. Bounded by the pool's
 * statement_timeout (a failure: the step fails, a resume runs it again).
 */
export async function awaitWriteBarrierOn(pool: pg.Pool, tenantId: string): Promise<void> {
  requireTenantId(tenantId);
  await withClient(pool, async (client) => {
    await client.query(`select pg_catalog.pg_advisory_lock(${MOVE_LOCK_KEY})`, [tenantId]);
    await client.query(`select pg_catalog.pg_advisory_unlock(${MOVE_LOCK_KEY})`, [tenantId]);
  });
}

/** The users the tenant's memberships on the database behind `pool` refer to (ids only). */
export async function memberUserIdsOn(pool: pg.Pool, tenantId: string): Promise<string[]> {
  requireTenantId(tenantId);
  return asTenantOn(pool, tenantId, async (client) => {
    const { rows } = await client.query<{ user_id: string }>('select distinct user_id from public.memberships where tenant_id = $1', [tenantId]);
    return rows.map((row) => row.user_id);
  });
}

/** id, email and name of `ids` (never the password hash), read on the shared database, where the users are. */
export async function usersById(sharedPool: pg.Pool, ids: string[]): Promise<UserCopy[]> {
  if (ids.length === 0) return [];
  const { rows } = await sharedPool.query<UserCopy>('select id, email, name from public.users where id = any($1::uuid[])', [ids]);
  return rows;
}

export interface TableCheck {
  rows: number;
  /** md5 over the md5s of the rows' texts, sorted: independent of physical order, equal for equal rows. */
  checksum: string;
}

/** Row count and checksum of the tenant's rows in every tenant table of the database behind `pool`. */
export async function checksumTenantRowsOn(pool: pg.Pool, tenantId: string): Promise<Record<string, TableCheck>> {
  requireTenantId(tenantId);
  return asTenantOn(pool, tenantId, async (client) => {
    await client.query(STABLE_TEXT_SETTINGS);
    const checks: Record<string, TableCheck> = {};
    for (const table of await tenantTablesOf(client)) {
      const { rows } = await client.query<{ n: number; checksum: string }>(
        `select count(*)::int as n, coalesce(md5(string_agg(h, '' order by h)), '') as checksum
           from (select md5(row_to_json(t)::text) as h from public.${quoteIdentifier(table.name)} as t where tenant_id = $1) as rows`,
        [tenantId],
      );
      checks[table.name] = { rows: rows[0].n, checksum: rows[0].checksum };
    }
    return checks;
  });
}

/**
 * The directory entry of the tenant on the database behind `pool`: which database holds its rows
 * (`tenants.database`), and its move state cleared when `resume`. On the shared database this is
 * the directory itself; on a dedicated source, pointing its anchor elsewhere makes tenancy_set()
 * there refuse the tenant (TA421), so an instance still routing to it fails instead of reading
 * rows that are no longer the live ones. Idempotent; false when the row is not there.
 */
export async function pointTenantOn(pool: pg.Pool, tenantId: string, database: string, resume: boolean): Promise<boolean> {
  requireTenantId(tenantId);
  const result = await pool.query(
    `update public.tenants set database = $2, move_state = case when $3 then null else move_state end, updated_at = now() where id = $1`,
    [tenantId, database, resume],
  );
  return (result.rowCount ?? 0) > 0;
}

/** The tenant's row on the database behind `pool`: where it says the rows are, and its move state (undefined: no row). */
export async function tenantEntryOn(pool: pg.Pool, tenantId: string): Promise<{ database: string; moveState: string | null } | undefined> {
  requireTenantId(tenantId);
  const { rows } = await pool.query<{ database: string; move_state: string | null }>('select database, move_state from public.tenants where id = $1', [tenantId]);
  return rows[0] && { database: rows[0].database, moveState: rows[0].move_state };
}
