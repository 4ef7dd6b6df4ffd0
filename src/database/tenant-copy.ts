import { Logger } from '@nestjs/common';
import pg from 'pg';
import { UUID_PATTERN } from '../common/uuid';
import { inTransaction, withClient } from './pg/pool';
import { CatalogTenantTable, quoteIdentifier, tenantTablesOf } from './tenant-catalog';

/**
 * The database side of moving one tenant between databases (src/lifecycle/tenant-move.service.ts,
 * README "Moving a tenant"). Every function runs on OWNER connections (OwnerConnections.pool) of
 * the database it names, under the isolation policies with the tenant set transaction-locally, as
 * erasure does: a statement here can only see or write that one tenant's rows. Nothing here is
 * reachable from a request's input: the move service names the databases from the directory and
 * the configuration.
 */

/** The move's advisory key, as tenancy_set() (drizzle/0022) computes it: two int4 keys. */
const MOVE_LOCK_KEY = "pg_catalog.hashtext('tenancy.move'), pg_catalog.hashtext($1::text)";
/** Rows fetched from the source cursor and inserted into the target per statement. */
const COPY_BATCH_ROWS = 500;
/**
 * Fixed session formats for the row texts compared by the checksums (row_to_json): the two
 * databases may be on servers with another TimeZone or IntervalStyle, which would change the
 * text of equal values. Transaction-local.
 */
const STABLE_TEXT_SETTINGS =
  "select set_config('TimeZone', 'UTC', true), set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true), set_config('DateStyle', 'ISO, MDY', true)";

const logger = new Logger('SystemDb');

function audit(operation: string, fields: Record<string, string | number | undefined>): void {
  logger.log(`system operation=${operation}${Object.entries(fields).map(([key, value]) => (value === undefined ? '' : ` ${key}=${value}`)).join('')}`);
}

function requireTenantId(tenantId: string): void {
  if (!UUID_PATTERN.test(tenantId)) throw new Error('a tenant id must be a UUID');
}

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

/** A platform row the tenant's rows point to on their database (memberships -> users), copied first on a dedicated target. */
export interface UserCopy {
  id: string;
  email: string;
  name: string;
}

/** The users the tenant's memberships on the database behind `pool` refer to (ids only). */
export async function memberUserIdsOn(pool: pg.Pool, tenantId: string): Promise<string[]> {
  requireTenantId(tenantId);
  return inTransaction(pool, null, async (client) => {
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
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

export interface CopyOptions {
  /** Users to write on the target first (a dedicated target: what its memberships refer to). Idempotent. */
  users?: UserCopy[];
  /** After each table is copied: rows copied from it (a progress bar, a job's report). Throwing aborts the copy. */
  onTable?: (table: string, rows: number) => void | Promise<void>;
}

/**
 * Copies every row of `tenantId` from the source database to the target, table by table in
 * foreign-key order (tenantTablesOf), tenant_id and every other column kept as they are.
 *
 * - Source: one REPEATABLE READ, READ ONLY transaction, so every table is read from the same
 *   snapshot (taken after the barrier: nothing of the tenant writes there any more anyway).
 *   Rows travel as row_to_json text and are rebuilt on the target by json_populate_recordset:
 *   the values' own text forms, no JavaScript type in between (timestamps keep their microseconds,
 *   numerics their digits, bytea its bytes).
 * - Target: ONE transaction. It first deletes whatever rows of the tenant are there (a copy that
 *   committed before its step was recorded, a crash), then inserts; it commits as a whole or not
 *   at all, so a copy cut short leaves nothing, and running it again is always safe.
 *   `tenancy.copying` (drizzle/0022) keeps the usage trigger from counting the copied ledger rows
 *   again (the counters are copied as they are).
 *
 * Returns rows copied per table (every table of the source's catalog listed).
 */
export async function copyTenantRows(source: pg.Pool, target: pg.Pool, tenantId: string, options: CopyOptions = {}): Promise<Record<string, number>> {
  requireTenantId(tenantId);
  const copied: Record<string, number> = {};
  await withClient(source, async (reader) => {
    await reader.query('begin isolation level repeatable read read only');
    try {
      await reader.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
      const sourceTables = await tenantTablesOf(reader);
      await inTransaction(target, null, async (writer) => {
        await writer.query("select set_config('app.tenant_id', $1, true), set_config('tenancy.copying', 'on', true)", [tenantId]);
        const targetTables = new Map((await tenantTablesOf(writer)).map((table) => [table.name, table]));
        for (const table of sourceTables) {
          if (!targetTables.has(table.name)) throw new Error(`the target database has no table ${table.name}: migrate it first`);
        }
        for (const table of [...targetTables.values()].reverse()) {
          await writer.query(`delete from public.${quoteIdentifier(table.name)} where tenant_id = $1`, [tenantId]);
        }
        if (options.users?.length) {
          await writer.query(
            'insert into public.users (id, email, name) select id, email, name from json_populate_recordset(null::public.users, $1::json) on conflict (id) do nothing',
            [JSON.stringify(options.users)],
          );
        }
        for (const table of sourceTables) {
          copied[table.name] = await copyTable(reader, writer, table, targetTables.get(table.name)!, tenantId);
          await options.onTable?.(table.name, copied[table.name]);
        }
      });
      await reader.query('commit');
    } catch (error) {
      await reader.query('rollback').catch(() => undefined);
      throw error;
    }
  });
  audit('tenants.move.copy-rows', { forTenant: tenantId, rows: Object.values(copied).reduce((a, b) => a + b, 0) });
  return copied;
}

async function copyTable(reader: pg.PoolClient, writer: pg.PoolClient, source: CatalogTenantTable, target: CatalogTenantTable, tenantId: string): Promise<number> {
  const name = `public.${quoteIdentifier(source.name)}`;
  // The target's writable columns that the source has: generated columns are computed again there.
  const columns = target.writableColumns.filter((column) => source.columns.includes(column)).map(quoteIdentifier).join(', ');
  const cursor = quoteIdentifier(`tenancy_copy_${source.name}`);
  await reader.query(`declare ${cursor} no scroll cursor for select row_to_json(t)::text as row from ${name} as t where tenant_id = $1`, [tenantId]);
  let rows = 0;
  try {
    for (;;) {
      const batch = await reader.query<{ row: string }>(`fetch ${COPY_BATCH_ROWS} from ${cursor}`);
      if (batch.rows.length === 0) break;
      // The rows' JSON texts joined as they came: no parse and re-serialise in between.
      const json = `[${batch.rows.map((r) => r.row).join(',')}]`;
      await writer.query(`insert into ${name} (${columns}) select ${columns} from json_populate_recordset(null::${name}, $1::json)`, [json]);
      rows += batch.rows.length;
    }
  } finally {
    await reader.query(`close ${cursor}`);
  }
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
  return inTransaction(pool, null, async (client) => {
    await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
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
