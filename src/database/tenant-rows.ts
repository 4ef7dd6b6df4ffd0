import { createHash, Hash } from 'node:crypto';
import pg from 'pg';
import { asTenantOn, auditOwnerOperation, OwnerConnections, requireTenantId, TenantPlacement } from './owner-connections';
import { CatalogTenantTable, quoteIdentifier, tenantTablesOf } from './tenant-catalog';
import { countTenantRowsOn, TableCounts } from './tenant-erasure';

/**
 * One tenant's rows in every tenant table, read out and written back (export and import, issue 14;
 * src/exports), or copied to another database (a live move, src/lifecycle). A platform operation on the OWNER connections of the tenant's database, like
 * erasure (tenant-erasure.ts), and for the same reasons: it works on every tenant table found in the
 * catalog (a table added later is included without code changes), and the restore needs what the
 * runtime role may not do (write the append-only ledger without its trigger counting it again). Every
 * statement still runs with the tenant set transaction-locally, so the isolation policies (forced
 * on the owner too) show and accept that one tenant's rows only.
 *
 * The row encoding (what an archive's rows/<table>.ndjson holds, one line per row):
 *   `(to_jsonb(row) - 'tenant_id')::text` as PostgreSQL prints it: keys in jsonb's fixed order,
 *   timestamps in UTC (the transaction's time zone is set), numbers and text exact. PostgreSQL
 *   reads it back with jsonb_populate_recordset, into the table's own column types.
 * The checksum of a table: sha256 over its lines, each followed by "\n", in primary key order, with
 * every occurrence of the tenant's own id written as the nil UUID. The tenant id is so left out
 * wherever it appears (tenant_id, and values that embed it, such as attachments' storage keys), so
 * a restore into another tenant has the same checksums as its source: what the import verifies
 * before it commits, and what a round trip test compares.
 */

/** What an export writes per table and an import checks: the columns of each line, how many rows, their checksum. */
export interface TableSummary {
  name: string;
  columns: string[];
  count: number;
  /** sha256 (hex) of the canonical encoding, see above. */
  checksum: string;
}

export interface ReadRowsOptions {
  /** Rows fetched per round trip (default 1000). */
  batchSize?: number;
  /** Every table's lines, as they are read (in primary key order): e.g. written to a file. */
  onRow: (table: CatalogTenantTable, line: string) => void | Promise<void>;
  /** After each fetched batch (a progress bar, a job's report). */
  onBatch?: (table: string, rows: number) => void | Promise<void>;
}

/** One table of a restore: the archive's column list and its lines, in the order written. */
export interface TableToRestore {
  name: string;
  columns: readonly string[];
  lines: () => AsyncIterable<string>;
}

export interface RestoreOptions {
  /** The tenant the lines were exported from: its id in values (storage keys) becomes the target's. */
  sourceTenantId: string;
  /** Rows inserted per statement (default 500). */
  batchSize?: number;
  onBatch?: (table: string, rows: number) => void | Promise<void>;
  /** What the manifest promises per table; the restore fails (rolled back) unless the restored rows have exactly these checksums and counts. */
  expected: readonly TableSummary[];
}

/** A platform row the tenant's rows point to on their database (memberships -> users), copied first on a dedicated target. */
export interface UserCopy {
  id: string;
  email: string;
  name: string;
}

export interface CopyOptions {
  /** Users to write on the target first (a dedicated target: what its memberships refer to). Idempotent. */
  users?: UserCopy[];
  /** After each table is copied: rows copied from it (a progress bar, a job's report). Throwing aborts the copy. */
  onTable?: (table: string, rows: number) => void | Promise<void>;
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const DEFAULT_READ_BATCH = 1000;
const DEFAULT_RESTORE_BATCH = 500;

/** A restore that does not reproduce the archive's rows; nothing of it was committed. */
export class RestoreMismatchError extends Error {
  constructor(readonly mismatches: Array<{ table: string; expected: { count: number; checksum: string }; restored: { count: number; checksum: string } }>) {
    super(`restored rows differ from the archive in ${mismatches.map((m) => m.table).join(', ')}`);
    this.name = 'RestoreMismatchError';
  }
}

/** Checksum and count of one table's canonical lines, fed line by line. */
export class TableChecksum {
  private readonly hash: Hash = createHash('sha256');
  count = 0;

  constructor(private readonly tenantId: string) {}

  add(line: string): void {
    this.hash.update(line.split(this.tenantId).join(NIL_UUID));
    this.hash.update('\n');
    this.count++;
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/** The transaction settings that make the encoding the same on every server and session. */
const CANONICAL_SETTINGS = "select set_config('app.tenant_id', $1, true), set_config('timezone', 'UTC', true), set_config('intervalstyle', 'iso_8601', true)";

/**
 * Writing rows that already carry their effects (a restore, a move's copy): the ledger's counting
 * trigger (usage_events_apply, drizzle/0028) skips its work when the transaction sets
 * `tenancy.copying` as the owner role, so the copied counters are not counted a second time. One
 * mechanism for both writers, transaction-local: other sessions' inserts into the same table count
 * as usual and never wait (an ALTER TABLE ... DISABLE TRIGGER would lock the table for everyone).
 */
const COPYING_SETTING = "select set_config('tenancy.copying', 'on', true)";
/** Tenant tables whose triggers honour `tenancy.copying`; a trigger elsewhere would run again on copied rows. */
const TRIGGERS_HONOURING_COPYING: ReadonlySet<string> = new Set(['usage_events']);

/** Fails before anything is written when a tenant table has a trigger that would not skip copied rows. */
function assertTriggersHonourCopying(tables: readonly CatalogTenantTable[]): void {
  const unknown = tables.filter((table) => table.hasUserTriggers && !TRIGGERS_HONOURING_COPYING.has(table.name)).map((table) => table.name);
  if (unknown.length) throw new Error(`tenant table(s) ${unknown.join(', ')} have triggers that do not honour tenancy.copying: teach them (as drizzle/0028 did usage_events_apply) before copying rows`);
}

/**
 * Inserts canonical lines (tenant_id left out) into `table` as rows of tenantId, `batchSize` per
 * statement: the lines' columns that the table can write (generated ones are computed again),
 * rebuilt by jsonb_populate_recordset into the table's own types; identity values kept.
 */
function lineInserter(client: pg.ClientBase, table: CatalogTenantTable, lineColumns: readonly string[], tenantId: string, batchSize: number, onBatch?: (table: string, rows: number) => void | Promise<void>) {
  const writable = new Set(table.writableColumns);
  const columns = lineColumns.filter((column) => column !== 'tenant_id' && writable.has(column)).map(quoteIdentifier);
  const name = `public.${quoteIdentifier(table.name)}`;
  const insert =
    `insert into ${name} (tenant_id${columns.map((c) => `, ${c}`).join('')}) overriding system value ` +
    `select $1${columns.map((c) => `, r.${c}`).join('')} from jsonb_populate_recordset(null::${name}, $2::jsonb) r`;
  let batch: string[] = [];
  let total = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await client.query(insert, [tenantId, `[${batch.join(',')}]`]);
    total += batch.length;
    await onBatch?.(table.name, batch.length);
    batch = [];
  };
  return {
    async add(line: string): Promise<void> {
      batch.push(line);
      if (batch.length >= batchSize) await flush();
    },
    /** Inserts what is left; the rows inserted in all. */
    async finish(): Promise<number> {
      await flush();
      return total;
    },
  };
}

/**
 * The canonical lines of tenantId's rows in `table`, in primary key order, `batchSize` at a time,
 * through a cursor (never the whole table in memory). Inside the caller's transaction.
 */
async function forEachLine(client: pg.ClientBase, table: CatalogTenantTable, tenantId: string, batchSize: number, fn: (lines: string[]) => void | Promise<void>): Promise<void> {
  const order = (table.primaryKey.length ? table.primaryKey : table.columns).map(quoteIdentifier).join(', ');
  await client.query(`declare tenant_rows no scroll cursor for select (to_jsonb(t) - 'tenant_id')::text as line from public.${quoteIdentifier(table.name)} t where tenant_id = $1 order by ${order}`, [tenantId]);
  for (;;) {
    const { rows } = await client.query<{ line: string }>(`fetch ${batchSize} from tenant_rows`);
    if (rows.length) await fn(rows.map((row) => row.line));
    if (rows.length < batchSize) break;
  }
  await client.query('close tenant_rows');
}

/**
 * Every tenant table's rows of tenantId on the database behind `pool` (an owner connection), in ONE
 * transaction, REPEATABLE READ READ ONLY: one snapshot, so the tables agree with each other (no
 * comment without its document) whatever is written meanwhile. A cursor per table, in primary key
 * order (deterministic: the same rows give the same file and checksum).
 */
export async function readTenantRowsOn(pool: pg.Pool, tenantId: string, options: ReadRowsOptions): Promise<TableSummary[]> {
  requireTenantId(tenantId);
  const batchSize = options.batchSize ?? DEFAULT_READ_BATCH;
  const client = await pool.connect();
  let healthy = true;
  try {
    await client.query('begin isolation level repeatable read read only');
    await client.query(CANONICAL_SETTINGS, [tenantId]);
    const summaries: TableSummary[] = [];
    for (const table of await tenantTablesOf(client)) {
      const checksum = new TableChecksum(tenantId);
      await forEachLine(client, table, tenantId, batchSize, async (lines) => {
        for (const line of lines) {
          checksum.add(line);
          await options.onRow(table, line);
        }
        await options.onBatch?.(table.name, lines.length);
      });
      summaries.push({ name: table.name, columns: table.columns.filter((column) => column !== 'tenant_id'), count: checksum.count, checksum: checksum.digest() });
    }
    await client.query('commit');
    return summaries;
  } catch (error) {
    healthy = false;
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    // A connection whose transaction failed half way is not handed back to the pool.
    client.release(healthy ? undefined : true);
  }
}

/** The canonical checksums of tenantId's rows as they are now (on `client`, inside the caller's transaction). */
async function checksumsOn(client: pg.ClientBase, tenantId: string, tables: readonly CatalogTenantTable[]): Promise<Map<string, { count: number; checksum: string }>> {
  const result = new Map<string, { count: number; checksum: string }>();
  for (const table of tables) {
    const checksum = new TableChecksum(tenantId);
    await forEachLine(client, table, tenantId, DEFAULT_READ_BATCH, (lines) => lines.forEach((line) => checksum.add(line)));
    result.set(table.name, { count: checksum.count, checksum: checksum.digest() });
  }
  return result;
}

/**
 * Writes an archive's rows into tenant `targetId` on the database behind `pool` (an owner
 * connection), in ONE transaction: all of it or nothing. Tables in foreign key order (parents
 * first); the tenant id rewritten (the column, and the source id wherever a value embeds it).
 * `tenancy.copying` is on for the transaction (COPYING_SETTING: usage_events' trigger would count
 * the ledger a second time into usage_counters, which are restored as they were). Before
 * committing, the restored rows' checksums must equal `expected`.
 * The caller checked that the target has no rows (TENANT_NOT_EMPTY); this checks it again inside
 * the transaction.
 */
export async function restoreTenantRowsOn(pool: pg.Pool, targetId: string, tables: readonly TableToRestore[], options: RestoreOptions): Promise<TableCounts> {
  requireTenantId(targetId);
  requireTenantId(options.sourceTenantId);
  const batchSize = options.batchSize ?? DEFAULT_RESTORE_BATCH;
  return asTenantOn(pool, targetId, async (client) => {
    await client.query(CANONICAL_SETTINGS, [targetId]);
    const catalog = await tenantTablesOf(client);
    const byName = new Map(catalog.map((table) => [table.name, table]));
    for (const table of catalog) {
      const { rows } = await client.query<{ found: boolean }>(`select exists (select 1 from public.${quoteIdentifier(table.name)} where tenant_id = $1) as found`, [targetId]);
      if (rows[0].found) throw new TargetNotEmptyError(table.name);
    }
    const order = new Map(catalog.map((table, index) => [table.name, index]));
    const sorted = [...tables].sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
    const restored: TableCounts = Object.fromEntries(catalog.map((table) => [table.name, 0]));
    assertTriggersHonourCopying(catalog);
    await client.query(COPYING_SETTING);
    for (const entry of sorted) {
      const table = byName.get(entry.name);
      if (!table) throw new Error(`no tenant table "${entry.name}" in this database`);
      const inserter = lineInserter(client, table, entry.columns, targetId, batchSize, options.onBatch);
      for await (const line of entry.lines()) await inserter.add(line.split(options.sourceTenantId).join(targetId));
      restored[table.name] += await inserter.finish();
    }
    const actual = await checksumsOn(client, targetId, catalog);
    const mismatches = options.expected
      .map((expected) => ({ table: expected.name, expected: { count: expected.count, checksum: expected.checksum }, restored: actual.get(expected.name) ?? { count: 0, checksum: '' } }))
      .filter((m) => m.expected.count !== m.restored.count || m.expected.checksum !== m.restored.checksum);
    if (mismatches.length) throw new RestoreMismatchError(mismatches);
    return restored;
  });
}

/**
 * Copies every row of `tenantId` from the database behind `source` to the one behind `target` (both
 * owner connections), table by table in foreign key order, as the export reads and the restore
 * writes them (canonical lines, tenant id unchanged): a live move's copy step.
 *
 * - Source: one REPEATABLE READ, READ ONLY transaction, so every table is read from the same
 *   snapshot (taken after the move's barrier: nothing of the tenant writes there any more anyway).
 * - Target: ONE transaction. It first deletes whatever rows of the tenant are there (a copy that
 *   committed before its step was recorded, a crash), then inserts, with `tenancy.copying` on; it
 *   commits as a whole or not at all, so a copy cut short leaves nothing, and running it again is
 *   always safe.
 *
 * Returns rows copied per table (every table of the source's catalog listed).
 */
export async function copyTenantRowsOn(source: pg.Pool, target: pg.Pool, tenantId: string, options: CopyOptions = {}): Promise<TableCounts> {
  requireTenantId(tenantId);
  const copied: TableCounts = {};
  const reader = await source.connect();
  let healthy = true;
  try {
    await reader.query('begin isolation level repeatable read read only');
    await reader.query(CANONICAL_SETTINGS, [tenantId]);
    const sourceTables = await tenantTablesOf(reader);
    await asTenantOn(target, tenantId, async (writer) => {
      await writer.query(CANONICAL_SETTINGS, [tenantId]);
      const targetTables = new Map((await tenantTablesOf(writer)).map((table) => [table.name, table]));
      for (const table of sourceTables) {
        if (!targetTables.has(table.name)) throw new Error(`the target database has no table ${table.name}: migrate it first`);
      }
      assertTriggersHonourCopying([...targetTables.values()]);
      await writer.query(COPYING_SETTING);
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
        const inserter = lineInserter(writer, targetTables.get(table.name)!, table.columns, tenantId, DEFAULT_RESTORE_BATCH);
        await forEachLine(reader, table, tenantId, DEFAULT_RESTORE_BATCH, async (lines) => {
          for (const line of lines) await inserter.add(line);
        });
        copied[table.name] = await inserter.finish();
        await options.onTable?.(table.name, copied[table.name]);
      }
    });
    await reader.query('commit');
    return copied;
  } catch (error) {
    healthy = false;
    await reader.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    reader.release(healthy ? undefined : true);
  }
}

/** The restore's target already has rows (checked inside its transaction). */
export class TargetNotEmptyError extends Error {
  constructor(readonly table: string) {
    super(`the target tenant already has rows in ${table}`);
    this.name = 'TargetNotEmptyError';
  }
}

/**
 * Export and import of one tenant's rows on the databases of this deployment, through the owner
 * connections (OwnerConnections, shared with TenantErasure). Each call is a named, logged platform
 * operation.
 */
export class TenantRows {
  constructor(private readonly owners: OwnerConnections) {}

  /** Whether an owner connection is configured for `database` (shared: DATABASE_MIGRATION_URL). */
  canReach(database: string): boolean {
    return this.owners.canReach(database);
  }

  async read(placement: TenantPlacement, options: ReadRowsOptions): Promise<TableSummary[]> {
    auditOwnerOperation('tenants.rows.read', { forTenant: placement.tenantId, database: placement.database });
    return readTenantRowsOn(this.owners.pool(placement.database), placement.tenantId, options);
  }

  async restore(target: TenantPlacement, tables: readonly TableToRestore[], options: RestoreOptions): Promise<TableCounts> {
    auditOwnerOperation('tenants.rows.restore', { forTenant: target.tenantId, database: target.database, fromTenant: options.sourceTenantId });
    return restoreTenantRowsOn(this.owners.pool(target.database), target.tenantId, tables, options);
  }

  /** A live move's copy (copyTenantRowsOn): the tenant's rows from its placement's database to `toDatabase`. */
  async copy(from: TenantPlacement, toDatabase: string, options: CopyOptions = {}): Promise<TableCounts> {
    const copied = await copyTenantRowsOn(this.owners.pool(from.database), this.owners.pool(toDatabase), from.tenantId, options);
    auditOwnerOperation('tenants.move.copy-rows', { forTenant: from.tenantId, database: from.database, to: toDatabase, rows: Object.values(copied).reduce((a, b) => a + b, 0) });
    return copied;
  }

  /** Rows per tenant table (the same count erasure uses). */
  async count(placement: TenantPlacement): Promise<TableCounts> {
    return countTenantRowsOn(this.owners.pool(placement.database), placement.tenantId);
  }

  /** The tenant's current checksums per table (what a round trip compares). */
  async checksums(placement: TenantPlacement): Promise<Record<string, { count: number; checksum: string }>> {
    return asTenantOn(this.owners.pool(placement.database), placement.tenantId, async (client) => {
      await client.query(CANONICAL_SETTINGS, [placement.tenantId]);
      return Object.fromEntries(await checksumsOn(client, placement.tenantId, await tenantTablesOf(client)));
    });
  }

  /** The tenant tables of `database`, as its catalog says (an import checks an archive's tables and columns against them). */
  async tables(database: string): Promise<CatalogTenantTable[]> {
    return tenantTablesOf(this.owners.pool(database));
  }
}
