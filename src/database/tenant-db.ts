import { and, Column, eq, getTableColumns, is, Placeholder, SQL, sql, Subquery, Table } from 'drizzle-orm';
import { drizzle, NodePgDatabase, NodePgQueryResultHKT } from 'drizzle-orm/node-postgres';
import type {
  AnyPgSelect,
  PgDeleteBase,
  PgDeleteWithout,
  PgInsertBase,
  PgInsertWithout,
  PgSelectBase,
  PgSelectWithout,
  PgTable,
  PgUpdateBase,
  PgUpdateSetSource,
  PgUpdateWithout,
  SelectedFields,
} from 'drizzle-orm/pg-core';
import type { GetSelectTableName, GetSelectTableSelection } from 'drizzle-orm/query-builders/select.types';
import pg from 'pg';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { SHARED_DATABASE } from '../config/env.schema';
import { Tenant, TenantContext } from '../tenancy/tenant-context';
import { queryForTenant, StatementConfig } from './pg/tenant-batch-query';
import { guardedClient, inTransaction, poolingOf, withClient } from './pg/pool';
import { asPoolSource, PoolSource } from './pg/pool-source';
import * as schema from './schema';
import { AnyTenantTable, isTenantTable } from './schema/tenant-table';

/**
 * The only database handle feature code gets. It is the first of the two
 * isolation layers (the second is forced RLS in Postgres):
 *
 * - select/update/delete: `tenant_id = <current tenant>` is ANDed with the
 *   caller's where (never replaced by it); every joined tenant table gets the
 *   same condition in its ON clause, so outer joins stay outer;
 * - insert: tenant_id is filled in; a row naming another tenant is rejected;
 * - update: a `set` naming another tenant is rejected, and tenant_id is never
 *   rewritten;
 * - every statement reaches Postgres together with a transaction-local
 *   `set_config('app.tenant_id', ...)` (one round trip, see tenant-batch-query.ts),
 *   multi-statement work through transaction();
 * - no tenant in context => MissingTenantContextError before any SQL is sent;
 * - prepared queries (prepared()) are built once with the same builders, the
 *   tenant a placeholder that each execute() fills from the context; building
 *   runs outside any tenant context, so nothing tenant-specific is captured.
 *
 * What it deliberately does not offer: raw SQL (execute), relational queries
 * (query), CTEs ($with/with), right/full/cross/lateral joins, set operators
 * (union, intersect, except: they could append a query built outside this
 * handle), update ... from / joins, insert ... select, $dynamic() (which
 * would give the refused methods back to the type), and drizzle's own
 * prepare() (it would keep the tenant of the moment it was called; prepared()
 * is the scoped way). Only tables declared with tenantTable() are accepted in
 * from/insert/update/delete; platform tables may only be joined (unfiltered). The types say the same as the run-time checks:
 * a refused call does not compile (test/types/tenant-db.types-test.ts), and
 * throws if forced through a cast. Use a system operation (SystemDb) for
 * platform tables, or extend this class with a tested rule.
 */

export type Schema = typeof schema;
type Db = NodePgDatabase<Schema>;

/**
 * `$dynamic()` is refused on every builder: drizzle's dynamic mode resets the
 * excluded methods, so it would give the refused ones back to the type. So is
 * drizzle's `prepare()`: the statement it keeps is scoped to the tenant of the
 * moment it was built, whoever executes it later (TenantDb.prepared() is the
 * scoped way to prepare).
 */
const REFUSED_SELECT_METHODS = [
  'rightJoin',
  'fullJoin',
  'crossJoin',
  'leftJoinLateral',
  'innerJoinLateral',
  'crossJoinLateral',
  'union',
  'unionAll',
  'intersect',
  'intersectAll',
  'except',
  'exceptAll',
  '$dynamic',
  'prepare',
] as const;
type RefusedSelectMethod = (typeof REFUSED_SELECT_METHODS)[number];
/** addSetOperators is drizzle's internal entry of the standalone union()/intersect()/except() functions. */
const FORBIDDEN_SELECT_METHODS = new Set<string>([...REFUSED_SELECT_METHODS, 'addSetOperators']);

const REFUSED_UPDATE_METHODS = ['from', 'leftJoin', 'rightJoin', 'innerJoin', 'fullJoin', '$dynamic', 'prepare'] as const;
type RefusedUpdateMethod = (typeof REFUSED_UPDATE_METHODS)[number];

/** `using` does not exist on drizzle 0.45's delete, refused should a later version add it. */
const REFUSED_DELETE_METHODS = ['using', '$dynamic', 'prepare'] as const;
const REFUSED_INSERT_METHODS = ['select', '$dynamic', 'prepare'] as const;
/** Of the above, the methods drizzle's insert and delete types have. */
type RefusedWriteMethod = '$dynamic' | 'prepare';

/**
 * The parameter that carries the tenant into a prepared query: each execute()
 * fills it from the tenant context, and a caller's parameter of this name is
 * refused (the dot keeps it apart from the names callers choose anyway).
 */
const TENANT_PARAM = 'tenancy.tenantId';
const TENANT_PLACEHOLDER = sql.placeholder(TENANT_PARAM);

/**
 * The tenant a statement is scoped to: the current tenant's id (TenantDb's own
 * builders), or the placeholder of a prepared query (the builders `q` it is
 * built with). Everything below takes either, so both get the one filter.
 */
type TenantValue = string | typeof TENANT_PLACEHOLDER;

/**
 * A scoped select: drizzle's own select type, with the refused methods in its
 * `excludedMethods`, which drizzle carries through every chained call
 * (where, leftJoin, orderBy, ...), as it does for the methods already used.
 */
export type ScopedSelect<
  TTableName extends string | undefined,
  TSelection extends Record<string, unknown>,
  TSelectMode extends 'partial' | 'single' | 'multiple',
> = PgSelectWithout<PgSelectBase<TTableName, TSelection, TSelectMode>, false, RefusedSelectMethod>;

/** What `select(fields?).from(table)` gives: the same result type as drizzle's, for a tenant table only. */
export type ScopedSelectFrom<TSelection extends SelectedFields | undefined, TTable extends AnyTenantTable> = ScopedSelect<
  GetSelectTableName<TTable>,
  TSelection extends undefined ? GetSelectTableSelection<TTable> : TSelection,
  TSelection extends undefined ? 'single' : 'partial'
>;

export interface ScopedSelectBuilder<TSelection extends SelectedFields | undefined> {
  from<TTable extends AnyTenantTable>(table: TTable): ScopedSelectFrom<TSelection, TTable>;
}

type InsertColumns<T extends AnyTenantTable> = Omit<T['$inferInsert'], 'tenantId'>;

/**
 * An insert row as feature code writes it: tenant_id is filled in by TenantDb.
 * A value may be a placeholder, for prepared queries (drizzle's own insert type allows it too).
 */
export type TenantInsert<T extends AnyTenantTable> = { [K in keyof InsertColumns<T>]: InsertColumns<T>[K] | Placeholder } & { tenantId?: string };

export type ScopedInsert<T extends AnyTenantTable> = PgInsertWithout<PgInsertBase<T, NodePgQueryResultHKT>, false, RefusedWriteMethod>;

/** No `select()`: insert ... select could copy rows of a query built outside this handle. */
export interface ScopedInsertBuilder<T extends AnyTenantTable> {
  values(value: TenantInsert<T>): ScopedInsert<T>;
  values(values: TenantInsert<T>[]): ScopedInsert<T>;
}

export type ScopedUpdate<T extends AnyTenantTable> = PgUpdateWithout<PgUpdateBase<T, NodePgQueryResultHKT>, false, RefusedUpdateMethod>;

/** drizzle's `set` source; a value may be a placeholder, for prepared queries (drizzle binds it like a value). */
export type TenantUpdateSet<T extends AnyTenantTable> = { [K in keyof PgUpdateSetSource<T>]: PgUpdateSetSource<T>[K] | Placeholder };

export interface ScopedUpdateBuilder<T extends AnyTenantTable> {
  set(values: TenantUpdateSet<T>): ScopedUpdate<T>;
}

export type ScopedDelete<T extends AnyTenantTable> = PgDeleteWithout<PgDeleteBase<T, NodePgQueryResultHKT>, false, RefusedWriteMethod>;

export class TenantMismatchError extends AppError {
  constructor() {
    super(ErrorCode.Internal, 'A row named a tenant other than the current one');
    this.name = 'TenantMismatchError';
  }
}

export class UnscopedTableError extends AppError {
  constructor(operation: string) {
    super(ErrorCode.Internal, `${operation} on a table not declared with tenantTable() is not allowed through the tenant handle`);
    this.name = 'UnscopedTableError';
  }
}

class UnsupportedInTenantScopeError extends AppError {
  constructor(method: string) {
    super(ErrorCode.Internal, `${method}() is not supported by the tenant-scoped handle`);
    this.name = 'UnsupportedInTenantScopeError';
  }
}

export class PreparedQueryMisuseError extends AppError {
  constructor(message: string) {
    super(ErrorCode.Internal, message);
    this.name = 'PreparedQueryMisuseError';
  }
}

/** The tenant column of a table declared with tenantTable() (the brand), else undefined. */
function tenantColumnOf(table: unknown): Column | undefined {
  if (!isTenantTable(table)) return undefined;
  const column = getTableColumns(table).tenantId;
  return column && column.name === 'tenant_id' ? column : undefined;
}

function requireTenantColumn(table: unknown, operation: string): Column {
  const tenantColumn = tenantColumnOf(table);
  if (!tenantColumn) throw new UnscopedTableError(operation);
  return tenantColumn;
}

/**
 * A joined table is filtered when it is a tenant table, and refused when it has
 * a tenant_id column without being declared with tenantTable(): such a table
 * would otherwise join unfiltered, with only RLS between the tenants.
 */
function joinedTenantColumn(joined: unknown): Column | undefined {
  const column = tenantColumnOf(joined);
  if (!column && is(joined, Table) && getTableColumns(joined).tenantId?.name === 'tenant_id') throw new UnscopedTableError('join');
  return column;
}

/** A where or ON condition as drizzle takes it: SQL, nothing, or a callback over the selection. */
type Condition<TAliases> = SQL | undefined | ((aliases: TAliases) => SQL | undefined);

function withTenant<TAliases>(condition: Condition<TAliases>, own: SQL): Condition<TAliases> {
  if (typeof condition === 'function') return (aliases: TAliases) => and(own, condition(aliases));
  return and(own, condition);
}

/**
 * An override receives the caller's arguments as they came; each declares the
 * drizzle parameter types it handles (the `any[]` only lets the table hold them).
 */
type Override = (...args: any[]) => unknown;

/** What drizzle's prepare() gives: the statement built once, run with the placeholders' values. */
interface DrizzlePrepared<TResult> {
  execute(placeholderValues: Record<string, unknown>): Promise<TResult>;
}

/** Every drizzle builder the scoped ones wrap (select, insert, update, delete). */
interface DrizzleBuilder {
  prepare(name: string): DrizzlePrepared<unknown>;
}

/**
 * Each scoped builder with its tenant and the drizzle builder it wraps:
 * prepared() accepts only builders scoped to the placeholder (those of its own
 * `q`), and prepares the wrapped builder, since the scoped one refuses prepare().
 */
const scopedBuilders = new WeakMap<object, { tenant: TenantValue; target: DrizzleBuilder }>();

/**
 * Wraps a drizzle builder so the methods that could widen the query keep the
 * tenant condition, the refused ones throw, and every other method passes
 * through; methods returning the builder itself keep returning the wrapper.
 */
function scoped<T extends DrizzleBuilder>(target: T, tenant: TenantValue, overrides: Record<string, Override>, forbidden: ReadonlySet<string>): T {
  const proxy: T = new Proxy(target, {
    get(obj, prop, receiver) {
      if (typeof prop === 'string') {
        if (forbidden.has(prop)) return () => { throw new UnsupportedInTenantScopeError(prop); };
        const override = overrides[prop];
        if (override) return (...args: unknown[]) => { override(...args); return proxy; };
      }
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(obj, args);
        return result === obj ? proxy : result;
      };
    },
  });
  scopedBuilders.set(proxy, { tenant, target });
  return proxy;
}

function scopedSelect(query: AnyPgSelect, table: AnyTenantTable, tenant: TenantValue): AnyPgSelect {
  const tenantColumn = requireTenantColumn(table, 'select');
  const own = eq(tenantColumn, tenant);
  query.where(own);
  const join = (method: 'leftJoin' | 'innerJoin'): Override => (joined: PgTable | Subquery | SQL, on: Condition<unknown>) => {
    const joinedColumn = joinedTenantColumn(joined);
    query[method](joined, joinedColumn ? withTenant(on, eq(joinedColumn, tenant)) : on);
  };
  return scoped(
    query,
    tenant,
    {
      where: (condition: Condition<unknown>) => query.where(withTenant(condition, own)),
      leftJoin: join('leftJoin'),
      innerJoin: join('innerJoin'),
    },
    FORBIDDEN_SELECT_METHODS,
  );
}

/**
 * A copy of row without tenantId; throws if it names another tenant. In a
 * prepared query any tenant named is refused: the tenant is known only at
 * execute(). tenantId is optional in every type it sees.
 */
function assertOwnTenant<T extends object>(row: T, tenant: TenantValue): T {
  const claimed: unknown = 'tenantId' in row ? row.tenantId : undefined;
  if (claimed !== undefined && claimed !== tenant) throw new TenantMismatchError();
  const copy = { ...row };
  Reflect.deleteProperty(copy, 'tenantId');
  return copy;
}

/**
 * The scoped select/insert/update/delete. Each builder is scoped to the value
 * `tenant()` gives when the builder is created, so TenantDb's builders fail
 * closed without a context before any SQL is built. TenantDb is these plus
 * transaction() and prepared(); the `q` a prepared query is built with is
 * these alone, scoped to the tenant placeholder. Exported as a type only:
 * feature code gets builders from TenantDb and `q`, never makes them.
 */
class TenantQueryBuilder {
  constructor(protected readonly db: Db, private readonly tenant: () => TenantValue) {}

  select(): ScopedSelectBuilder<undefined>;
  select<TSelection extends SelectedFields>(fields: TSelection): ScopedSelectBuilder<TSelection>;
  select<TSelection extends SelectedFields>(fields?: TSelection): ScopedSelectBuilder<TSelection | undefined> {
    const tenant = this.tenant();
    const db = this.db;
    return {
      from<TTable extends AnyTenantTable>(table: TTable): ScopedSelectFrom<TSelection | undefined, TTable> {
        const source: PgTable = table;
        const selection: SelectedFields | undefined = fields;
        // $dynamic() changes nothing at run time; it only lets the builder be held as AnyPgSelect here.
        const query: AnyPgSelect = selection ? db.select(selection).from(source).$dynamic() : db.select().from(source).$dynamic();
        // The proxy is drizzle's builder for `table` with the refused methods throwing. Its type is
        // drizzle's from() result, a conditional on TSelection and TTable that TypeScript cannot
        // resolve for them as type parameters, hence the cast to the same type with those methods left out.
        return scopedSelect(query, table, tenant) as unknown as ScopedSelectFrom<TSelection | undefined, TTable>;
      },
    };
  }

  insert<T extends AnyTenantTable>(table: T): ScopedInsertBuilder<T> {
    const tenant = this.tenant();
    requireTenantColumn(table, 'insert');
    const builder = this.db.insert<PgTable>(table);
    const values = (input: TenantInsert<T> | TenantInsert<T>[]): ScopedInsert<T> => {
      const rows = (Array.isArray(input) ? input : [input]).map((row) => ({ ...assertOwnTenant(row, tenant), tenantId: tenant }));
      const inserted = builder.values(rows);
      const scopedInsert = scoped(
        inserted,
        tenant,
        {
          onConflictDoUpdate: (config: Parameters<typeof inserted.onConflictDoUpdate>[0]) =>
            inserted.onConflictDoUpdate({ ...config, set: assertOwnTenant(config.set, tenant) }),
        },
        new Set(REFUSED_INSERT_METHODS),
      );
      // drizzle typed the builder for PgTable (the rows were rebuilt above with tenantId); it is the insert into T.
      return scopedInsert as unknown as ScopedInsert<T>;
    };
    // select() is not on the type; forced through a cast, it throws instead of being undefined.
    const refusingSelect: ScopedInsertBuilder<T> & { select(): never } = {
      values,
      select: () => { throw new UnsupportedInTenantScopeError('insert().select'); },
    };
    return refusingSelect;
  }

  update<T extends AnyTenantTable>(table: T): ScopedUpdateBuilder<T> {
    const tenant = this.tenant();
    const tenantColumn = requireTenantColumn(table, 'update');
    const own = eq(tenantColumn, tenant);
    const builder = this.db.update(table);
    return {
      set: (values) => {
        const updating = builder.set(assertOwnTenant(values, tenant));
        updating.where(own);
        return scoped(
          updating,
          tenant,
          { where: (condition: SQL | undefined) => updating.where(and(own, condition)) },
          new Set(REFUSED_UPDATE_METHODS),
        );
      },
    };
  }

  delete<T extends AnyTenantTable>(table: T): ScopedDelete<T> {
    const tenant = this.tenant();
    const tenantColumn = requireTenantColumn(table, 'delete');
    const own = eq(tenantColumn, tenant);
    const deleting = this.db.delete(table);
    deleting.where(own);
    return scoped(deleting, tenant, { where: (condition: SQL | undefined) => deleting.where(and(own, condition)) }, new Set(REFUSED_DELETE_METHODS));
  }
}

/** Parameters of a prepared query: any names but the tenant's. */
export type PreparedParams = Record<string, unknown> & { [TENANT_PARAM]?: never };

/** `p.id` is `sql.placeholder('id')`, typed with the value execute() must be given for it. */
export type Placeholders<TParams> = { readonly [K in keyof TParams]: Placeholder<K & string, TParams[K]> };

const placeholders: unknown = new Proxy({}, { get: (_target, name) => (typeof name === 'string' ? sql.placeholder(name) : undefined) });

/** A statement for TenantDb.together(): a scoped builder (not executed), which returns no rows. */
export interface LeadingStatement {
  toSQL(): { sql: string; params: unknown[] };
}

type RunTogether = <T>(leading: StatementConfig[], fn: (db: TenantDb) => Promise<T>) => Promise<T>;

export class TogetherMisuseError extends AppError {
  constructor(message: string) {
    super(ErrorCode.Internal, message);
    this.name = 'TogetherMisuseError';
  }
}

/**
 * Settings TenantDb.withSettings() may apply to a statement: pgvector's HNSW search knobs
 * (semantic search, src/search), which decide how far an index scan goes, never what it may see.
 */
export const SESSION_SETTINGS: ReadonlySet<string> = new Set(['hnsw.ef_search', 'hnsw.iterative_scan', 'hnsw.max_scan_tuples']);

export class SettingRefusedError extends AppError {
  constructor(name: string) {
    super(ErrorCode.Internal, `The setting "${name}" cannot be changed through the tenant handle`);
    this.name = 'SettingRefusedError';
  }
}

export class TenantDb extends TenantQueryBuilder {
  constructor(
    db: Db,
    private readonly runTransaction: <T>(fn: (tx: TenantDb) => Promise<T>) => Promise<T>,
    private readonly runTogether: RunTogether,
  ) {
    super(db, TenantContext.currentId);
  }

  /**
   * `leading` and the one statement `fn` runs on the handle it is given, atomically and in ONE
   * round trip: the batch is [tenant setting, leading..., statement] before a single Sync, so
   * PostgreSQL runs them as one implicit transaction; an error in any (say a trigger refusing a
   * usage event past its quota) rolls all of them back and the statement never runs. A
   * transaction of two statements costs four round trips (BEGIN, two statements, COMMIT).
   *
   * `leading` must be statements built with this handle's builders for the current tenant and
   * return no rows (an insert without returning()); `fn` must run exactly one statement on the
   * handle (a second throws TogetherMisuseError). Inside a transaction, they simply run in order.
   */
  async together<T>(leading: LeadingStatement[], fn: (db: TenantDb) => Promise<T>): Promise<T> {
    const tenant = TenantContext.currentId();
    const statements = leading.map((statement) => {
      if (scopedBuilders.get(statement)?.tenant !== tenant) throw new TogetherMisuseError('together() takes statements built with TenantDb for the current tenant');
      const { sql: text, params } = statement.toSQL();
      return { text, values: params };
    });
    return await this.runTogether(statements, fn);
  }

  /**
   * The one statement `fn` runs on the handle it is given, with server settings applied to it
   * alone (set_config(name, value, true): transaction-local), in the same one round trip as the
   * tenant setting: [tenant, set_config..., statement] before a single Sync, as together() does.
   * After the Sync the settings are gone from the connection, so a pooled connection (and a
   * transaction pooler's) never carries them into another request. Inside a transaction they hold
   * until it ends.
   *
   * Only the names in SESSION_SETTINGS are accepted: app.tenant_id, the statement timeout and
   * anything else isolation or limits rely on stay out of reach (SettingRefusedError).
   */
  async withSettings<T>(settings: Readonly<Record<string, string>>, fn: (db: TenantDb) => Promise<T>): Promise<T> {
    TenantContext.currentId(); // fail closed without a tenant, before anything is built
    const statements = Object.entries(settings).map(([name, value]) => {
      if (!SESSION_SETTINGS.has(name)) throw new SettingRefusedError(name);
      // Returns no row (set_config never returns null), as the batch expects of a leading statement.
      return { text: 'select 1 where pg_catalog.set_config($1, $2, true) is null', values: [name, value] };
    });
    return await this.runTogether(statements, fn);
  }

  /**
   * A hot query defined once (drizzle then builds its SQL text once, not on every call),
   * executed with its parameters only:
   *
   *   this.byId = db.prepared((q, p: Placeholders<{ id: string }>) =>
   *     q.select().from(documents).where(eq(documents.id, p.id)).limit(1));
   *   const [row] = await this.byId.execute({ id });
   *
   * `q` has TenantDb's scoped builders with the same refusals; their tenant is a
   * placeholder that execute() fills from the tenant context. `build` runs
   * outside any tenant context (now, and once per transaction handle the query
   * runs on), so it can capture nothing tenant-specific; a value that varies per
   * call must be a placeholder (`p.<name>`), anything else (say, `new Date()`) is
   * fixed when the query is built.
   */
  prepared<TResult, TParams extends PreparedParams = Record<never, never>>(
    build: (q: TenantQueryBuilder, p: Placeholders<TParams>) => PromiseLike<TResult>,
  ): TenantPreparedQuery<TParams, TResult> {
    return new TenantPreparedQuery<TParams, TResult>(this, (handle) => {
      const q = new TenantQueryBuilder(handle.db, () => TENANT_PLACEHOLDER);
      const query = TenantContext.exit(() => build(q, placeholders as Placeholders<TParams>));
      const built = scopedBuilders.get(query);
      if (built?.tenant !== TENANT_PLACEHOLDER) throw new PreparedQueryMisuseError('A prepared query must be built with the builders it is given (q)');
      // Its result type is the one the scoped builder resolves to (TResult): the same builder underneath.
      // '' is pg's unnamed statement, as for every other query: the batch names statements by their text
      // itself, and a name here would also make pg keep named statements on a transaction's connection.
      return built.target.prepare('') as DrizzlePrepared<TResult>;
    });
  }

  /** Several statements that must commit together: BEGIN + set_config, the work, COMMIT. */
  transaction<T>(fn: (tx: TenantDb) => Promise<T>): Promise<T> {
    return this.runTransaction(fn);
  }

  /**
   * One statement that reads nothing, so PostgreSQL checks the unit of work's
   * AccessClaim (tenancy_enter) for a request that needed no data; throws as any
   * statement would when the claim no longer holds.
   */
  async confirmClaim(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }
}

/**
 * A query of TenantDb.prepared(). It runs on the handle it was defined on, or
 * on the one given: inside TenantDb.transaction() or
 * PlatformTransaction.asTenant(), pass the transaction's `tx`, or the statement
 * runs on another connection, outside the transaction (as `this.db.select()`
 * would there). A transaction handle gets its own copy, built on first use.
 * Only TenantDb.prepared() makes one (the class is exported as a type only).
 */
class TenantPreparedQuery<TParams extends PreparedParams, TResult> {
  /** Weak: a transaction's copy goes with its handle. */
  private readonly byHandle = new WeakMap<TenantDb, DrizzlePrepared<TResult>>();

  constructor(
    private readonly owner: TenantDb,
    private readonly prepareOn: (handle: TenantDb) => DrizzlePrepared<TResult>,
  ) {
    // Built at once: a build error (a refused method, a platform table) surfaces where the query is defined.
    this.byHandle.set(owner, prepareOn(owner));
  }

  /** No tenant context: MissingTenantContextError, and no SQL is sent. */
  async execute(params: TParams, db: TenantDb = this.owner): Promise<TResult> {
    if (TENANT_PARAM in params) throw new PreparedQueryMisuseError(`The parameter name "${TENANT_PARAM}" is reserved for the tenant`);
    const tenantId = TenantContext.currentId();
    let prepared = this.byHandle.get(db);
    if (!prepared) {
      prepared = this.prepareOn(db);
      this.byHandle.set(db, prepared);
    }
    return await prepared.execute({ ...params, [TENANT_PARAM]: tenantId });
  }
}
export type { TenantPreparedQuery, TenantQueryBuilder };

/**
 * The drizzle "client" behind TenantDb: drizzle hands it each statement, it
 * adds the tenant of the current context and runs the one-round-trip batch.
 */
class TenantBatchClient {
  private used = false;

  /** `leading`: TenantDb.together()'s statements; such a client runs one statement, then refuses. */
  constructor(
    private readonly pools: PoolSource,
    private readonly leading?: readonly StatementConfig[],
  ) {}

  query(config: string | { text: string; rowMode?: 'array'; types?: StatementConfig['types'] }, values?: unknown[]): Promise<pg.QueryResult> {
    const tenant = TenantContext.current();
    if (this.leading) {
      if (this.used) return Promise.reject(new TogetherMisuseError('A handle of together() runs one statement'));
      this.used = true;
    }
    const claim = TenantContext.scope()?.claim;
    const statement = typeof config === 'string' ? { text: config } : config;
    return this.pools.use(databaseOf(tenant), (pool) =>
      withClient(pool, (client) =>
        queryForTenant(client, tenant.id, { text: statement.text, values, rowMode: statement.rowMode, types: statement.types }, { claim, pooling: poolingOf(pool), leading: this.leading }),
      ),
    );
  }
}

/**
 * The database holding the tenant's rows (the tenant directory, tenants.database). A Tenant cached
 * by an older build has none: the shared database, where tenancy_set() refuses a tenant placed elsewhere.
 */
function databaseOf(tenant: Tenant): string {
  return tenant.database ?? SHARED_DATABASE;
}

/**
 * The TenantDb of the application: each statement (and each transaction) runs on the pool of the
 * current tenant's database, taken from `source` (DatabasePools; a bare pool: the shared database only).
 */
export function createTenantDb(source: pg.Pool | PoolSource): TenantDb {
  const pools = asPoolSource(source);
  // Outside transactions (TenantDb runs those itself), drizzle's node-postgres session calls only
  // client.query(config, values), TenantBatchClient's one method, on a client that is not a pool;
  // its type asks for a pg.Pool or pg.Client.
  const db = drizzle({ client: new TenantBatchClient(pools) as unknown as pg.Pool, schema });
  const runTransaction = async <T>(fn: (tx: TenantDb) => Promise<T>): Promise<T> => {
    const scope = TenantContext.scope();
    const tenant = TenantContext.current();
    return pools.use(databaseOf(tenant), (pool) =>
      inTransaction(pool, { name: 'app.tenant_id', uuid: tenant.id, claim: scope?.claim }, async (client) => {
        let open = true;
        try {
          return await fn(tenantDbInTransaction(client, () => {
            if (!open) throw new TransactionEndedError();
          }));
        } finally {
          open = false;
        }
      }),
    );
  };
  const runTogether: RunTogether = async (leading, fn) => {
    const handle = new TenantDb(drizzle({ client: new TenantBatchClient(pools, leading) as unknown as pg.Pool, schema }), runTransaction, runTogether);
    return await fn(handle);
  };
  return new TenantDb(db, runTransaction, runTogether);
}

export class TransactionEndedError extends AppError {
  constructor() {
    super(ErrorCode.Internal, 'A transaction handle was used after its transaction ended');
    this.name = 'TransactionEndedError';
  }
}

/**
 * A TenantDb whose statements all run on `client`, a connection inside a
 * transaction that has set app.tenant_id to the current tenant (TenantDb.transaction,
 * PlatformTransaction.asTenant); its transaction() joins that one. `check` runs
 * before each statement and throws when the handle may no longer be used.
 */
export function tenantDbInTransaction(client: pg.PoolClient, check: () => void): TenantDb {
  const guarded = guardedClient(client, check);
  const tx: TenantDb = new TenantDb(
    drizzle({ client: guarded, schema }),
    (inner) => inner(tx),
    async (leading, fn) => {
      // Already one transaction: the statements run in order on its connection.
      for (const statement of leading) await guarded.query(statement.text, statement.values);
      return await fn(tx);
    },
  );
  return tx;
}
