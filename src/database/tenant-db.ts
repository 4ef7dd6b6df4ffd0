import { and, Column, eq, getTableColumns, is, sql, SQL, Subquery, Table } from 'drizzle-orm';
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
import { TenantContext } from '../tenancy/tenant-context';
import { queryForTenant, StatementConfig } from './pg/tenant-batch-query';
import { guardedClient, inTransaction, withClient } from './pg/pool';
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
 * - no tenant in context => MissingTenantContextError before any SQL is sent.
 *
 * What it deliberately does not offer: raw SQL (execute), relational queries
 * (query), CTEs ($with/with), right/full/cross/lateral joins, set operators
 * (union, intersect, except: they could append a query built outside this
 * handle), update ... from / joins, insert ... select, and $dynamic() (which
 * would give the refused methods back to the type). Only tables declared with
 * tenantTable() are accepted in from/insert/update/delete; platform tables may
 * only be joined (unfiltered). The types say the same as the run-time checks:
 * a refused call does not compile (test/types/tenant-db.types-test.ts), and
 * throws if forced through a cast. Use a system operation (SystemDb) for
 * platform tables, or extend this class with a tested rule.
 */

export type Schema = typeof schema;
type Db = NodePgDatabase<Schema>;

/**
 * `$dynamic()` is refused on every builder: drizzle's dynamic mode resets the
 * excluded methods, so it would give the refused ones back to the type.
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
] as const;
type RefusedSelectMethod = (typeof REFUSED_SELECT_METHODS)[number];
/** addSetOperators is drizzle's internal entry of the standalone union()/intersect()/except() functions. */
const FORBIDDEN_SELECT_METHODS = new Set<string>([...REFUSED_SELECT_METHODS, 'addSetOperators']);

const REFUSED_UPDATE_METHODS = ['from', 'leftJoin', 'rightJoin', 'innerJoin', 'fullJoin', '$dynamic'] as const;
type RefusedUpdateMethod = (typeof REFUSED_UPDATE_METHODS)[number];

/** `using` does not exist on drizzle 0.45's delete, refused should a later version add it. */
const REFUSED_DELETE_METHODS = ['using', '$dynamic'] as const;
const REFUSED_INSERT_METHODS = ['select', '$dynamic'] as const;

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

/** An insert row as feature code writes it: tenant_id is filled in by TenantDb. */
export type TenantInsert<T extends AnyTenantTable> = Omit<T['$inferInsert'], 'tenantId'> & { tenantId?: string };

export type ScopedInsert<T extends AnyTenantTable> = PgInsertWithout<PgInsertBase<T, NodePgQueryResultHKT>, false, '$dynamic'>;

/** No `select()`: insert ... select could copy rows of a query built outside this handle. */
export interface ScopedInsertBuilder<T extends AnyTenantTable> {
  values(value: TenantInsert<T>): ScopedInsert<T>;
  values(values: TenantInsert<T>[]): ScopedInsert<T>;
}

export type ScopedUpdate<T extends AnyTenantTable> = PgUpdateWithout<PgUpdateBase<T, NodePgQueryResultHKT>, false, RefusedUpdateMethod>;

export interface ScopedUpdateBuilder<T extends AnyTenantTable> {
  set(values: PgUpdateSetSource<T>): ScopedUpdate<T>;
}

export type ScopedDelete<T extends AnyTenantTable> = PgDeleteWithout<PgDeleteBase<T, NodePgQueryResultHKT>, false, '$dynamic'>;

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

/**
 * Wraps a drizzle builder so the methods that could widen the query keep the
 * tenant condition, the refused ones throw, and every other method passes
 * through; methods returning the builder itself keep returning the wrapper.
 */
function scoped<T extends object>(target: T, overrides: Record<string, Override>, forbidden: ReadonlySet<string>): T {
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
  return proxy;
}

function scopedSelect(query: AnyPgSelect, table: AnyTenantTable, tenantId: string): AnyPgSelect {
  const tenantColumn = requireTenantColumn(table, 'select');
  const own = eq(tenantColumn, tenantId);
  query.where(own);
  const join = (method: 'leftJoin' | 'innerJoin'): Override => (joined: PgTable | Subquery | SQL, on: Condition<unknown>) => {
    const joinedColumn = joinedTenantColumn(joined);
    query[method](joined, joinedColumn ? withTenant(on, eq(joinedColumn, tenantId)) : on);
  };
  return scoped(
    query,
    {
      where: (condition: Condition<unknown>) => query.where(withTenant(condition, own)),
      leftJoin: join('leftJoin'),
      innerJoin: join('innerJoin'),
    },
    FORBIDDEN_SELECT_METHODS,
  );
}

/** A copy of row without tenantId; throws if it names another tenant. tenantId is optional in every type it sees. */
function assertOwnTenant<T extends object>(row: T, tenantId: string): T {
  const claimed: unknown = 'tenantId' in row ? row.tenantId : undefined;
  if (claimed !== undefined && claimed !== tenantId) throw new TenantMismatchError();
  const copy = { ...row };
  Reflect.deleteProperty(copy, 'tenantId');
  return copy;
}

export class TenantDb {
  constructor(private readonly db: Db, private readonly runTransaction: <T>(fn: (tx: TenantDb) => Promise<T>) => Promise<T>) {}

  select(): ScopedSelectBuilder<undefined>;
  select<TSelection extends SelectedFields>(fields: TSelection): ScopedSelectBuilder<TSelection>;
  select<TSelection extends SelectedFields>(fields?: TSelection): ScopedSelectBuilder<TSelection | undefined> {
    const tenantId = TenantContext.currentId();
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
        return scopedSelect(query, table, tenantId) as unknown as ScopedSelectFrom<TSelection | undefined, TTable>;
      },
    };
  }

  insert<T extends AnyTenantTable>(table: T): ScopedInsertBuilder<T> {
    const tenantId = TenantContext.currentId();
    requireTenantColumn(table, 'insert');
    const builder = this.db.insert<PgTable>(table);
    const values = (input: TenantInsert<T> | TenantInsert<T>[]): ScopedInsert<T> => {
      const rows = (Array.isArray(input) ? input : [input]).map((row) => ({ ...assertOwnTenant(row, tenantId), tenantId }));
      const inserted = builder.values(rows);
      const scopedInsert = scoped(
        inserted,
        {
          onConflictDoUpdate: (config: Parameters<typeof inserted.onConflictDoUpdate>[0]) =>
            inserted.onConflictDoUpdate({ ...config, set: assertOwnTenant(config.set, tenantId) }),
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
    const tenantId = TenantContext.currentId();
    const tenantColumn = requireTenantColumn(table, 'update');
    const own = eq(tenantColumn, tenantId);
    const builder = this.db.update(table);
    return {
      set: (values) => {
        const updating = builder.set(assertOwnTenant(values, tenantId));
        updating.where(own);
        return scoped(
          updating,
          { where: (condition: SQL | undefined) => updating.where(and(own, condition)) },
          new Set(REFUSED_UPDATE_METHODS),
        );
      },
    };
  }

  delete<T extends AnyTenantTable>(table: T): ScopedDelete<T> {
    const tenantId = TenantContext.currentId();
    const tenantColumn = requireTenantColumn(table, 'delete');
    const own = eq(tenantColumn, tenantId);
    const deleting = this.db.delete(table);
    deleting.where(own);
    return scoped(deleting, { where: (condition: SQL | undefined) => deleting.where(and(own, condition)) }, new Set(REFUSED_DELETE_METHODS));
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
 * The drizzle "client" behind TenantDb: drizzle hands it each statement, it
 * adds the tenant of the current context and runs the one-round-trip batch.
 */
class TenantBatchClient {
  constructor(private readonly pool: pg.Pool) {}

  query(config: string | { text: string; rowMode?: 'array'; types?: StatementConfig['types'] }, values?: unknown[]): Promise<pg.QueryResult> {
    const tenantId = TenantContext.currentId();
    const claim = TenantContext.scope()?.claim;
    const statement = typeof config === 'string' ? { text: config } : config;
    return withClient(this.pool, (client) =>
      queryForTenant(client, tenantId, { text: statement.text, values, rowMode: statement.rowMode, types: statement.types }, claim),
    );
  }
}

export function createTenantDb(pool: pg.Pool): TenantDb {
  // Outside transactions (TenantDb runs those itself), drizzle's node-postgres session calls only
  // client.query(config, values), TenantBatchClient's one method, on a client that is not a pool;
  // its type asks for a pg.Pool or pg.Client.
  const db = drizzle({ client: new TenantBatchClient(pool) as unknown as pg.Pool, schema });
  const runTransaction = async <T>(fn: (tx: TenantDb) => Promise<T>): Promise<T> => {
    const scope = TenantContext.scope();
    return inTransaction(pool, { name: 'app.tenant_id', uuid: TenantContext.currentId(), claim: scope?.claim }, async (client) => {
      let open = true;
      try {
        return await fn(tenantDbInTransaction(client, () => {
          if (!open) throw new TransactionEndedError();
        }));
      } finally {
        open = false;
      }
    });
  };
  return new TenantDb(db, runTransaction);
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
  const tx: TenantDb = new TenantDb(drizzle({ client: guardedClient(client, check), schema }), (inner) => inner(tx));
  return tx;
}
