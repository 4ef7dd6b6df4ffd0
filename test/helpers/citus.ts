import pg from 'pg';

/**
 * What Citus would refuse when the tables of one schema are distributed, read from
 * the catalog of a plain PostgreSQL database (there is no Citus server in the tests).
 * Tenant tables (a `tenant_id` column) become distributed tables on `tenant_id`,
 * the others reference tables, as docs/scale-out.md distributes them. Every function
 * takes the schema, so a test can run it on a scratch schema of deliberately bad
 * tables and show it reports them. The rules, and where Citus states them, are in
 * docs/scale-out.md ("What Citus requires of the schema").
 */

type Client = pg.Client | pg.PoolClient;

export interface CitusTables {
  /** Base tables with a `tenant_id` column: distributed on it. */
  tenant: string[];
  /** Every other base table: a reference table. */
  platform: string[];
}

export async function citusTables(client: Client, schema: string): Promise<CitusTables> {
  const { rows } = await client.query<{ name: string; is_tenant: boolean }>(
    `select c.relname as name,
            exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as is_tenant
       from pg_class c
      where c.relnamespace = $1::text::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
      order by c.relname collate "C"`,
    [schema],
  );
  return { tenant: rows.filter((r) => r.is_tenant).map((r) => r.name), platform: rows.filter((r) => !r.is_tenant).map((r) => r.name) };
}

/**
 * Primary keys, unique and exclusion constraints and unique indexes (partial and
 * expression ones included: pg_constraint does not list those, pg_index does) of
 * tenant tables that do not have `tenant_id` among their key columns. A column
 * only INCLUDEd, or `tenant_id` inside an expression, does not count; in an
 * exclusion constraint it must be compared with `=`.
 */
export async function keysWithoutTenant(client: Client, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ table: string; index: string; is_primary: boolean; contype: string | null; partial: boolean; expression: boolean }>(
    `select t.relname as table, i.relname as index, x.indisprimary as is_primary, k.contype,
            x.indpred is not null as partial, x.indexprs is not null as expression
       from pg_index x
       join pg_class t on t.oid = x.indrelid
       join pg_class i on i.oid = x.indexrelid
       join pg_attribute tenant on tenant.attrelid = t.oid and tenant.attname = 'tenant_id' and not tenant.attisdropped
       left join pg_constraint k on k.conindid = x.indexrelid and k.conrelid = t.oid and k.contype in ('p', 'u', 'x')
      where t.relnamespace = $1::text::regnamespace and (x.indisunique or x.indisexclusion)
        and not exists (
          select 1 from unnest(x.indkey::int2[]) with ordinality as key(attnum, n)
           where key.n <= x.indnkeyatts and key.attnum = tenant.attnum
             and (k.contype is distinct from 'x' or (select o.oprname from pg_operator o where o.oid = k.conexclop[key.n]) = '='))
      order by t.relname collate "C", i.relname collate "C"`,
    [schema],
  );
  return rows.map((r) => {
    const kind = r.is_primary ? 'primary key' : r.contype === 'u' ? 'unique constraint' : r.contype === 'x' ? 'exclusion constraint' : 'unique index';
    const shape = [r.partial && 'partial', r.expression && 'expression'].filter(Boolean);
    return `${r.table}: ${kind} ${r.index}${shape.length ? ` (${shape.join(', ')})` : ''} does not have tenant_id among its key columns`;
  });
}

export interface ForeignKey {
  name: string;
  source: string;
  target: string;
  sourceColumns: string[];
  targetColumns: string[];
  /** pg_constraint.confdeltype / confupdtype: a no action, r restrict, c cascade, n set null, d set default. */
  onDelete: string;
  onUpdate: string;
}

/** Foreign keys whose two tables are both in the schema. */
export async function foreignKeys(client: Client, schema: string): Promise<ForeignKey[]> {
  const { rows } = await client.query<ForeignKey>(
    `select c.conname as name, s.relname as source, t.relname as target, c.confdeltype as "onDelete", c.confupdtype as "onUpdate",
            array(select a.attname::text from unnest(c.conkey) with ordinality as key(attnum, n)
                    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = key.attnum order by key.n) as "sourceColumns",
            array(select a.attname::text from unnest(c.confkey) with ordinality as key(attnum, n)
                    join pg_attribute a on a.attrelid = c.confrelid and a.attnum = key.attnum order by key.n) as "targetColumns"
       from pg_constraint c
       join pg_class s on s.oid = c.conrelid
       join pg_class t on t.oid = c.confrelid
      where c.contype = 'f' and s.relnamespace = $1::text::regnamespace and t.relnamespace = $1::text::regnamespace
      order by c.conname collate "C"`,
    [schema],
  );
  return rows;
}

const ACTION: Record<string, string> = { c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/**
 * Foreign keys Citus refuses once tenant tables are distributed on tenant_id and
 * the others are reference tables:
 * - reference -> distributed (platform table -> tenant table);
 * - distributed -> distributed without tenant_id paired with tenant_id at the same
 *   position (the shards must be co-located and joined on the distribution column);
 * - on a key holding tenant_id: ON DELETE SET NULL/SET DEFAULT, ON UPDATE
 *   SET NULL/SET DEFAULT/CASCADE (they would change the distribution column).
 * Distributed -> reference (tenant table -> platform table) is allowed.
 */
export async function foreignKeysCitusRefuses(client: Client, schema: string): Promise<string[]> {
  const tenant = new Set((await citusTables(client, schema)).tenant);
  const problems: string[] = [];
  for (const fk of await foreignKeys(client, schema)) {
    const fromTenant = tenant.has(fk.source);
    const toTenant = tenant.has(fk.target);
    if (!fromTenant && toTenant) {
      problems.push(`${fk.name}: ${fk.source} -> ${fk.target} goes from a platform (reference) table to a tenant (distributed) table`);
    }
    if (fromTenant && toTenant && !fk.sourceColumns.some((column, i) => column === 'tenant_id' && fk.targetColumns[i] === 'tenant_id')) {
      problems.push(`${fk.name}: ${fk.source} -> ${fk.target} does not join tenant_id to tenant_id`);
    }
    if (fromTenant && fk.sourceColumns.includes('tenant_id')) {
      if (fk.onDelete === 'n' || fk.onDelete === 'd') problems.push(`${fk.name}: ON DELETE ${ACTION[fk.onDelete]} on a key holding tenant_id`);
      if (fk.onUpdate in ACTION) problems.push(`${fk.name}: ON UPDATE ${ACTION[fk.onUpdate]} on a key holding tenant_id`);
    }
  }
  return problems;
}

/**
 * Policies whose USING or WITH CHECK expression holds a subquery (a SubLink in the
 * stored expression, what Citus's own check looks for): create_distributed_table
 * and create_reference_table refuse a table carrying one.
 */
export async function policiesCitusRefuses(client: Client, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ policy: string }>(
    `select c.relname || '.' || p.polname as policy
       from pg_policy p join pg_class c on c.oid = p.polrelid
      where c.relnamespace = $1::text::regnamespace
        and (position('{SUBLINK' in coalesce(p.polqual::text, '')) > 0 or position('{SUBLINK' in coalesce(p.polwithcheck::text, '')) > 0)
      order by (c.relname || '.' || p.polname) collate "C"`,
    [schema],
  );
  return rows.map((r) => r.policy);
}

/**
 * User triggers (not the internal ones behind foreign keys): Citus distributes a
 * table carrying one only with citus.enable_unsafe_triggers on.
 */
export async function triggersCitusRefuses(client: Client, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ trigger: string }>(
    `select c.relname || '.' || g.tgname as trigger
       from pg_trigger g join pg_class c on c.oid = g.tgrelid
      where c.relnamespace = $1::text::regnamespace and not g.tgisinternal
      order by (c.relname || '.' || g.tgname) collate "C"`,
    [schema],
  );
  return rows.map((r) => r.trigger);
}

export type DistributionStatement =
  | { kind: 'distributed'; table: string; column: string; colocateWith: string }
  | { kind: 'reference'; table: string };

const SQL_FENCE = /^```sql\n([\s\S]*?)^```$/gm;
const DISTRIBUTED = /^SELECT create_distributed_table\('(\w+)', '(\w+)', colocate_with => '(\w+)'\);$/;
const REFERENCE = /^SELECT create_reference_table\('(\w+)'\);$/;
const ANY_DISTRIBUTION_CALL = /create_(distributed|reference)_table\s*\(/i;

/**
 * The create_distributed_table / create_reference_table statements of the ```sql
 * blocks of a markdown text, in order. A line that calls one of them in any other
 * form is returned in `unparsed`, so a statement written differently is not
 * silently left out of the comparison.
 */
export function distributionStatements(markdown: string): { statements: DistributionStatement[]; unparsed: string[] } {
  const statements: DistributionStatement[] = [];
  const unparsed: string[] = [];
  for (const [, block] of markdown.matchAll(SQL_FENCE)) {
    for (const line of block.split('\n').map((l) => l.trim())) {
      const distributed = DISTRIBUTED.exec(line);
      const reference = REFERENCE.exec(line);
      if (distributed) statements.push({ kind: 'distributed', table: distributed[1], column: distributed[2], colocateWith: distributed[3] });
      else if (reference) statements.push({ kind: 'reference', table: reference[1] });
      else if (ANY_DISTRIBUTION_CALL.test(line) && !line.startsWith('--')) unparsed.push(line);
    }
  }
  return { statements, unparsed };
}

/**
 * Where the statements and the schema disagree: a table with no statement (or two),
 * a statement for a table that does not exist, a tenant table not distributed on
 * tenant_id or a platform table not made a reference table, a distributed table not
 * co-located with the ones before it (the first starts the group: colocate_with =>
 * 'none'), or a table distributed before a table its foreign key references.
 */
export function docDisagreements(statements: DistributionStatement[], tables: CitusTables, keys: Pick<ForeignKey, 'name' | 'source' | 'target'>[]): string[] {
  const problems: string[] = [];
  const position = new Map<string, number>();
  statements.forEach((statement, i) => {
    if (position.has(statement.table)) problems.push(`${statement.table}: more than one statement`);
    else position.set(statement.table, i);
  });
  const known = new Set([...tables.tenant, ...tables.platform]);
  for (const statement of statements) if (!known.has(statement.table)) problems.push(`${statement.table}: no such table in the schema`);

  const statementFor = (table: string) => statements.find((s) => s.table === table);
  for (const table of tables.tenant) {
    const statement = statementFor(table);
    if (!statement) problems.push(`${table}: no statement`);
    else if (statement.kind !== 'distributed') problems.push(`${table}: a tenant table, made a reference table`);
    else if (statement.column !== 'tenant_id') problems.push(`${table}: distributed on ${statement.column}, not tenant_id`);
  }
  for (const table of tables.platform) {
    const statement = statementFor(table);
    if (!statement) problems.push(`${table}: no statement`);
    else if (statement.kind !== 'reference') problems.push(`${table}: a platform table, distributed`);
  }

  const distributedSoFar: string[] = [];
  for (const statement of statements) {
    if (statement.kind !== 'distributed') continue;
    if (distributedSoFar.length === 0 && statement.colocateWith !== 'none') {
      problems.push(`${statement.table}: the first distributed table must start the co-location group (colocate_with => 'none')`);
    }
    if (distributedSoFar.length > 0 && !distributedSoFar.includes(statement.colocateWith)) {
      problems.push(`${statement.table}: colocate_with => '${statement.colocateWith}' is not a table distributed before it`);
    }
    distributedSoFar.push(statement.table);
  }

  for (const fk of keys) {
    const source = position.get(fk.source);
    const target = position.get(fk.target);
    if (fk.source !== fk.target && source !== undefined && target !== undefined && target > source) {
      problems.push(`${fk.source}: distributed before ${fk.target}, which its foreign key ${fk.name} references`);
    }
  }
  return problems;
}
