import { and, Column, eq, getTableColumns, is, SQL, Table } from 'drizzle-orm';
import { drizzle, NodePgDatabase } from 'drizzle-orm/node-postgres';
import { NodePgQueryResultHKT } from 'drizzle-orm/node-postgres';
import { PgInsertBuilder, PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { TenantContext } from '../tenancy/tenant-context';
import { queryForTenant } from './pg/tenant-batch-query';
import { inTransaction, withClient } from './pg/pool';
import * as schema from './schema';

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
 * What it deliberately does not offer: raw SQL, relational queries, right/full/
 * cross joins, update ... from, insert ... select. Use a system operation
 * (SystemDb) for platform tables, or extend this class with a tested rule.
 */

export type Schema = typeof schema;
type Db = NodePgDatabase<Schema>;

/** An insert row as feature code writes it: tenant_id is filled in by TenantDb. */
export type TenantInsert<T extends PgTable> = Omit<T['$inferInsert'], 'tenantId'> & { tenantId?: string };

interface ScopedInsertBuilder<T extends PgTable> {
  values(values: TenantInsert<T> | TenantInsert<T>[]): ReturnType<PgInsertBuilder<T, NodePgQueryResultHKT>['values']>;
}

export class TenantMismatchError extends AppError {
  constructor() {
    super(ErrorCode.Internal, 'A row named a tenant other than the current one');
    this.name = 'TenantMismatchError';
  }
}

export class UnscopedTableError extends AppError {
  constructor(operation: string) {
    super(ErrorCode.Internal, `${operation} on a table without tenant_id is not allowed through the tenant handle`);
    this.name = 'UnscopedTableError';
  }
}

class UnsupportedInTenantScopeError extends AppError {
  constructor(method: string) {
    super(ErrorCode.Internal, `${method}() is not supported by the tenant-scoped handle`);
    this.name = 'UnsupportedInTenantScopeError';
  }
}

function tenantColumnOf(table: unknown): Column | undefined {
  if (!is(table, PgTable)) return undefined;
  const column = (getTableColumns(table as Table) as Record<string, Column>).tenantId;
  return column && column.name === 'tenant_id' ? column : undefined;
}

function requireTenantColumn(table: unknown, operation: string): Column {
  const column = tenantColumnOf(table);
  if (!column) throw new UnscopedTableError(operation);
  return column;
}

type OnClause = SQL | undefined | ((...args: any[]) => SQL | undefined);

function withTenant(on: OnClause, condition: SQL): OnClause {
  if (typeof on === 'function') return (...args: any[]) => and(on(...args), condition);
  return and(on, condition);
}

const FORBIDDEN_SELECT_METHODS = new Set(['rightJoin', 'fullJoin', 'crossJoin', 'leftJoinLateral', 'innerJoinLateral', 'crossJoinLateral']);

/**
 * Wraps a drizzle builder so the methods that could widen the query keep the
 * tenant condition; every other method passes through, and methods returning
 * the builder itself keep returning the wrapper.
 */
function scoped<T extends object>(target: T, overrides: Record<string, (...args: any[]) => unknown>, forbidden: Set<string>): T {
  const proxy: T = new Proxy(target, {
    get(obj, prop, receiver) {
      if (typeof prop === 'string') {
        if (forbidden.has(prop)) return () => { throw new UnsupportedInTenantScopeError(prop); };
        const override = overrides[prop];
        if (override) return (...args: unknown[]) => { override(...args); return proxy; };
      }
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        return result === obj ? proxy : result;
      };
    },
  });
  return proxy;
}

function scopedSelect<T extends object>(builder: T, table: unknown, tenantId: string): T {
  const tenantColumn = requireTenantColumn(table, 'select');
  const own = eq(tenantColumn, tenantId);
  const b = builder as any;
  b.where(own);
  const join = (method: string) => (joined: unknown, on: OnClause) => {
    const joinedTenantColumn = tenantColumnOf(joined);
    b[method](joined, joinedTenantColumn ? withTenant(on, eq(joinedTenantColumn, tenantId)) : on);
  };
  return scoped(builder, {
    where: (condition?: SQL) => b.where(and(own, condition)),
    leftJoin: join('leftJoin'),
    innerJoin: join('innerJoin'),
  }, FORBIDDEN_SELECT_METHODS);
}

function assertOwnTenant(row: Record<string, unknown>, tenantId: string): Record<string, unknown> {
  if ('tenantId' in row && row.tenantId !== undefined && row.tenantId !== tenantId) throw new TenantMismatchError();
  const { tenantId: _ignored, ...rest } = row;
  return rest;
}

export class TenantDb {
  constructor(private readonly db: Db, private readonly runTransaction: <T>(fn: (tx: TenantDb) => Promise<T>) => Promise<T>) {}

  readonly select: Db['select'] = ((fields?: Record<string, unknown>) => {
    const tenantId = TenantContext.currentId();
    const builder = fields ? this.db.select(fields as any) : this.db.select();
    return { from: (table: unknown) => scopedSelect(builder.from(table as any), table, tenantId) };
  }) as any;

  readonly insert: <T extends PgTable>(table: T) => ScopedInsertBuilder<T> = ((table: unknown) => {
    const tenantId = TenantContext.currentId();
    requireTenantColumn(table, 'insert');
    const builder = this.db.insert(table as any) as any;
    return {
      values: (input: Record<string, unknown> | Record<string, unknown>[]) => {
        const rows = (Array.isArray(input) ? input : [input]).map((row) => ({ ...assertOwnTenant(row, tenantId), tenantId }));
        const inserted = builder.values(Array.isArray(input) ? rows : rows[0]);
        return scoped(inserted, {
          onConflictDoUpdate: (config: { set: Record<string, unknown> }) =>
            inserted.onConflictDoUpdate({ ...config, set: assertOwnTenant(config.set, tenantId) }),
        }, new Set(['select']));
      },
      select: () => { throw new UnsupportedInTenantScopeError('insert().select'); },
    };
  }) as any;

  readonly update: Db['update'] = ((table: unknown) => {
    const tenantId = TenantContext.currentId();
    const own = eq(requireTenantColumn(table, 'update'), tenantId);
    const builder = this.db.update(table as any) as any;
    return {
      set: (values: Record<string, unknown>) => {
        const updating = builder.set(assertOwnTenant(values, tenantId)).where(own);
        return scoped(updating, { where: (condition?: SQL) => updating.where(and(own, condition)) }, new Set(['from', 'leftJoin', 'innerJoin', 'rightJoin', 'fullJoin']));
      },
    };
  }) as any;

  readonly delete: Db['delete'] = ((table: unknown) => {
    const tenantId = TenantContext.currentId();
    const own = eq(requireTenantColumn(table, 'delete'), tenantId);
    const deleting = (this.db.delete(table as any) as any).where(own);
    return scoped(deleting, { where: (condition?: SQL) => deleting.where(and(own, condition)) }, new Set(['using']));
  }) as any;

  /** Several statements that must commit together: BEGIN + set_config, the work, COMMIT. */
  transaction<T>(fn: (tx: TenantDb) => Promise<T>): Promise<T> {
    return this.runTransaction(fn);
  }
}

/**
 * The drizzle "client" behind TenantDb: drizzle hands it each statement, it
 * adds the tenant of the current context and runs the one-round-trip batch.
 */
class TenantBatchClient {
  constructor(private readonly pool: pg.Pool) {}

  query(config: string | { text: string; rowMode?: 'array'; types?: any }, values?: unknown[]): Promise<pg.QueryResult> {
    const tenantId = TenantContext.currentId();
    const statement = typeof config === 'string' ? { text: config } : config;
    return withClient(this.pool, (client) =>
      queryForTenant(client, tenantId, { text: statement.text, values, rowMode: statement.rowMode, types: statement.types }),
    );
  }
}

export function createTenantDb(pool: pg.Pool): TenantDb {
  const db = drizzle({ client: new TenantBatchClient(pool) as unknown as pg.Pool, schema });
  const runTransaction = async <T>(fn: (tx: TenantDb) => Promise<T>): Promise<T> => {
    return inTransaction(pool, { name: 'app.tenant_id', uuid: TenantContext.currentId() }, (client) => {
      const txDb = drizzle({ client, schema });
      const tx: TenantDb = new TenantDb(txDb, (inner) => inner(tx));
      return fn(tx);
    });
  };
  return new TenantDb(db, runTransaction);
}
