import type pg from 'pg';

/** One tenant table as PostgreSQL's catalog describes it. */
export interface CatalogTenantTable {
  /** Unqualified name (schema public). */
  name: string;
  /** Every column a row carries, in table order (dropped columns left out). */
  columns: readonly string[];
  /** The columns an INSERT may name: generated columns are left out. */
  writableColumns: readonly string[];
  /** The tenant tables this one's foreign keys point to (itself excluded). */
  references: readonly string[];
  /** The primary key's columns in key order (tenant_id first for every tenant table): an export reads rows in this order. */
  primaryKey: readonly string[];
  /**
   * Whether the table has enabled triggers of its own (not foreign-key ones). Rows copied or
   * restored (tenant-rows.ts) set `tenancy.copying`, which such a trigger must honour
   * (usage_events' does: it would count the copied ledger into usage_counters again).
   */
  hasUserTriggers: boolean;
}

type Queryable = Pick<pg.ClientBase, 'query'> | Pick<pg.Pool, 'query'>;

/**
 * The tenant tables of one database, read from PostgreSQL's catalog rather than
 * from the TypeScript schema: a table added by a later migration is found
 * without code changes, and so is one a migration added outside the
 * TypeScript schema. A tenant table is one in schema `public` with a
 * `tenant_id` column and row-level security enabled and forced (the catalog
 * test holds every tenant table to that, so the two definitions agree).
 *
 * Ordered so that a table comes after every table its foreign keys point to:
 * inserting in this order and deleting in the reverse order never trips a
 * foreign key. Ties are broken by name so the order is stable across runs and
 * databases (an export's manifest lists tables in it).
 */
export async function tenantTablesOf(db: Queryable): Promise<CatalogTenantTable[]> {
  const { rows } = await db.query<{ name: string; columns: string[]; writable: string[]; references: string[] | null; primary_key: string[] | null; user_triggers: boolean }>(`
    select c.relname as name,
           array_agg(a.attname::text order by a.attnum) as columns,
           array_agg(a.attname::text order by a.attnum) filter (where a.attgenerated = '') as writable,
           (select array_agg(distinct p.relname::text)
              from pg_constraint f join pg_class p on p.oid = f.confrelid
             where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid) as references,
           (select array_agg(k.attname::text order by x.ordinality)
              from pg_constraint p
              cross join lateral unnest(p.conkey) with ordinality as x(attnum, ordinality)
              join pg_attribute k on k.attrelid = c.oid and k.attnum = x.attnum
             where p.conrelid = c.oid and p.contype = 'p') as primary_key,
           exists (select 1 from pg_trigger g where g.tgrelid = c.oid and not g.tgisinternal and g.tgenabled <> 'D') as user_triggers
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where n.nspname = 'public'
       and c.relkind in ('r', 'p')
       and c.relrowsecurity and c.relforcerowsecurity
       and exists (select 1 from pg_attribute t where t.attrelid = c.oid and t.attname = 'tenant_id' and not t.attisdropped)
     group by c.oid, c.relname`);
  const names = new Set(rows.map((row) => row.name));
  const tables = new Map(
    rows.map((row) => [
      row.name,
      // Foreign keys to platform tables (tenants, users) are left out: only tenant tables are ordered here.
      {
        name: row.name,
        columns: row.columns,
        writableColumns: row.writable,
        references: (row.references ?? []).filter((parent) => names.has(parent)),
        primaryKey: row.primary_key ?? [],
        hasUserTriggers: row.user_triggers,
      },
    ]),
  );
  return dependencyOrder(tables);
}

/** Parents before children (Kahn's algorithm, names ascending among the ready ones); a cycle is an error, not a silent order. */
function dependencyOrder(tables: Map<string, CatalogTenantTable>): CatalogTenantTable[] {
  const pending = new Map([...tables.values()].map((table) => [table.name, table.references]));
  const ordered: CatalogTenantTable[] = [];
  while (pending.size > 0) {
    const ready = [...pending.entries()].filter(([, parents]) => parents.every((parent) => !pending.has(parent))).map(([name]) => name).sort();
    if (ready.length === 0) throw new Error(`tenant tables reference each other in a cycle: ${[...pending.keys()].sort().join(', ')}`);
    for (const name of ready) {
      ordered.push(tables.get(name)!);
      pending.delete(name);
    }
  }
  return ordered;
}

/** A catalog name as a quoted SQL identifier (names come from the catalog, never from a client; quoted anyway). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
