import { Logger } from '@nestjs/common';
import { drizzle, NodePgDatabase } from 'drizzle-orm/node-postgres';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { Tenant, TenantContext, TenantScope } from '../tenancy/tenant-context';
import { SHARED_DATABASE } from '../config/env.schema';
import { guardedClient, inTransaction, poolingOf, withClient } from './pg/pool';
import { PoolSource, sharedOnly } from './pg/pool-source';
import { queryWithStatementTimeout, StatementConfig } from './pg/tenant-batch-query';
import * as schema from './schema';
import { TenantDb, tenantDbInTransaction } from './tenant-db';

export type SystemDatabase = NodePgDatabase<typeof schema>;

class PlatformTransactionMisuseError extends AppError {
  constructor(message: string) {
    super(ErrorCode.Internal, message);
    this.name = 'PlatformTransactionMisuseError';
  }
}

/** What only this file can reach of a platform transaction: its connection, as a platform handle and as a tenant handle. */
interface PlatformTransactionState {
  operation: string;
  /** false once the transaction has ended (committed or rolled back): every handle then refuses. */
  open: boolean;
  /** Set while asTenant() runs: the platform handle then refuses (app.tenant_id is set on the connection). */
  tenant?: Tenant;
  platformDb: SystemDatabase;
  tenantDb: TenantDb;
  client: pg.PoolClient;
  /** Where asTenant finds a tenant placed on a dedicated database. */
  pools: PoolSource;
}

const states = new WeakMap<PlatformTransaction, PlatformTransactionState>();
/** Held by this file only: the key to PlatformTransaction's constructor. */
const OPEN = Symbol('PlatformTransaction.open');
const logger = new Logger('SystemDb');

function audit(operation: string, extra: Record<string, string | undefined> = {}): void {
  const scope = TenantContext.scope();
  const fields = { ...extra, requestId: scope?.requestId, fromTenant: scope?.tenant.id };
  logger.log(`system operation=${operation}${Object.entries(fields).map(([key, value]) => (value ? ` ${key}=${value}` : '')).join('')}`);
}

/**
 * Drizzle's transaction() on a handle bound to one connection would send BEGIN and
 * COMMIT on it, committing the platform transaction early and unnoticed; on
 * SystemDb.run's handle behind a transaction pooler, it would send them through
 * the one-statement batch, each on whichever connection is free. Refused on both:
 * SystemDb.transaction is the (audited) way.
 */
function withoutTransactions(db: SystemDatabase, message: string): SystemDatabase {
  return Object.assign(db, { transaction: () => Promise.reject(new PlatformTransactionMisuseError(message)) });
}

/**
 * SystemDb.run's drizzle "client" behind a transaction pooler, where the
 * statement timeout cannot be a startup parameter: each statement goes out in
 * one batch after a transaction-local set_config of the timeout (one round
 * trip, see tenant-batch-query.ts). Drizzle calls only query(config, values)
 * on a client that is not a pool.
 */
class StatementTimeoutClient {
  constructor(
    private readonly pool: pg.Pool,
    private readonly statementTimeoutMs: number,
  ) {}

  query(config: string | { text: string; rowMode?: 'array'; types?: StatementConfig['types'] }, values?: unknown[]): Promise<pg.QueryResult> {
    const statement = typeof config === 'string' ? { text: config } : config;
    return withClient(this.pool, (client) =>
      queryWithStatementTimeout(client, { text: statement.text, values, rowMode: statement.rowMode, types: statement.types }, this.statementTimeoutMs),
    );
  }
}

/**
 * The platform handle on a pool (the shared one, or a dedicated database's for runWhereTenantIs):
 * behind a transaction pooler each statement carries its statement timeout (StatementTimeoutClient);
 * transactions refused (`refusal` says where to go instead).
 */
function platformHandle(pool: pg.Pool, refusal: string): SystemDatabase {
  const pooling = poolingOf(pool);
  // Its type asks for a pg.Pool or pg.Client; drizzle calls only query() on a client that is neither.
  const client = pooling.pooler === 'transaction' ? (new StatementTimeoutClient(pool, pooling.statementTimeoutMs) as unknown as pg.Pool) : pool;
  return withoutTransactions(drizzle({ client, schema }), refusal);
}

/** The tenant scope of a platform transaction's tenant step: the request's own when it is already this tenant's. */
function tenantStepScope(tenant: Tenant): TenantScope {
  const current = TenantContext.scope();
  return current?.tenant.id === tenant.id ? current : { tenant, requestId: current?.requestId ?? randomUUID() };
}

function stateOf(tx: PlatformTransaction): PlatformTransactionState {
  const state = states.get(tx);
  if (!state?.open) throw new PlatformTransactionMisuseError('A platform transaction was used after it ended');
  return state;
}

/**
 * One database transaction (one pooled connection) that writes platform rows
 * (tenants, users: through the platform repositories, which take it as their
 * optional last argument) and then one tenant's rows (asTenant), so a
 * multi-step write commits as a whole or not at all. Opened by
 * SystemDb.transaction (feature code: Transactions.run). Opaque: it runs no
 * query itself, and only SystemDb can reach its connection.
 */
export class PlatformTransaction {
  /** Only SystemDb.transaction (which holds the key) makes one. */
  constructor(key: typeof OPEN, state: PlatformTransactionState) {
    if (key !== OPEN) throw new PlatformTransactionMisuseError('A platform transaction is opened by SystemDb.transaction only');
    states.set(this, state);
  }

  /**
   * Runs fn as `tenant` on this transaction's connection: a transaction-local
   * `set_config('app.tenant_id', <tenant>, true)` (never a session SET; through tenancy_set(), which
   * refuses a tenant placed on another database), the
   * tenant context entered with run() (the request's own scope is kept when it
   * is already this tenant's), and a TenantDb bound to the connection, so RLS
   * and TenantDb's filter both see this tenant, including rows this same
   * transaction wrote (e.g. a tenant created a moment before). The setting is
   * cleared again afterwards; one tenant scope at a time, and the platform
   * handle refuses while it is open.
   */
  async asTenant<T>(tenant: Tenant, fn: (tx: TenantDb) => Promise<T>): Promise<T> {
    const state = stateOf(this);
    if (state.tenant) throw new PlatformTransactionMisuseError('A platform transaction is already acting as a tenant');
    audit(state.operation, { asTenant: tenant.id, database: tenant.database === SHARED_DATABASE ? undefined : tenant.database });
    if (tenant.database !== SHARED_DATABASE) return this.asTenantElsewhere(state, tenant, fn);
    // A savepoint around the tenant step: if fn fails and the caller carries on, rolling back to it
    // undoes the step's writes and the setting, so the platform handle never runs with a tenant set.
    await state.client.query('savepoint as_tenant');
    await state.client.query('select public.tenancy_set($1)', [tenant.id]);
    state.tenant = tenant;
    let settingCleared = false;
    try {
      const result = await TenantContext.run(tenantStepScope(tenant), () => fn(state.tenantDb));
      await state.client.query("select set_config('app.tenant_id', '', true)");
      await state.client.query('release savepoint as_tenant');
      settingCleared = true;
      return result;
    } catch (error) {
      try {
        await state.client.query('rollback to savepoint as_tenant');
        settingCleared = true;
      } catch {
        // The connection is gone or broken: the transaction fails as a whole; the platform handle stays refused.
      }
      throw error;
    } finally {
      // Only once the setting is gone does the platform handle work again (fail closed otherwise).
      if (settingCleared) state.tenant = undefined;
    }
  }

  /**
   * asTenant for a tenant placed on a dedicated database: its rows are there, so the tenant step is a
   * transaction of its own on that database, committed when fn returns, before the platform
   * transaction commits. Not one atomic commit across two databases: if the platform commit then
   * fails, the tenant step's rows stay behind in the dedicated database, unreachable (no platform row
   * points at them) and harmless; the other order could leave a platform row pointing at tenant rows
   * that were never written. Callers keep the tenant step last (docs/scale-out.md).
   */
  private async asTenantElsewhere<T>(state: PlatformTransactionState, tenant: Tenant, fn: (tx: TenantDb) => Promise<T>): Promise<T> {
    state.tenant = tenant;
    try {
      return await state.pools.use(tenant.database, (pool) =>
        inTransaction(pool, { name: 'app.tenant_id', uuid: tenant.id }, async (client) => {
          let open = true;
          try {
            return await TenantContext.run(tenantStepScope(tenant), () =>
              fn(tenantDbInTransaction(client, () => {
                if (!open || !state.open) throw new PlatformTransactionMisuseError('A platform transaction was used after it ended');
              })),
            );
          } finally {
            open = false;
          }
        }),
      );
    } finally {
      state.tenant = undefined;
    }
  }
}

/**
 * The named, logged escape hatch for platform work: tenants, users, and the
 * one cross-tenant read a user may do (their own memberships). It connects as
 * the same RLS-bound role as everything else and never sets a tenant, so tenant
 * tables still show it nothing: it cannot be used to read tenant data. The one
 * exception is explicit and narrow: a platform transaction's asTenant(), which
 * hands out a TenantDb (never a raw handle) for one named tenant.
 */
export class SystemDb {
  private readonly db: SystemDatabase;
  private readonly pools: PoolSource;

  /** `pool`: the shared database's (platform tables live there); `pools`: where tenants placed elsewhere are (asTenant). */
  constructor(
    private readonly pool: pg.Pool,
    pools?: PoolSource,
    private readonly dedicated: readonly string[] = [],
  ) {
    this.pools = pools ?? sharedOnly(pool);
    this.db = platformHandle(pool, 'SystemDb.run cannot open a transaction: use SystemDb.transaction');
  }

  /**
   * `operation` names the use in the audit log, e.g. "tenants.create". With
   * `tx`, fn runs inside that platform transaction (and the log names it too).
   */
  run<T>(operation: string, fn: (db: SystemDatabase) => Promise<T>, tx?: PlatformTransaction): Promise<T> {
    if (!tx) {
      audit(operation);
      return fn(this.db);
    }
    const inTransaction = async () => {
      const state = stateOf(tx);
      if (state.tenant) throw new PlatformTransactionMisuseError('The platform handle cannot be used while the transaction acts as a tenant');
      audit(operation, { transaction: state.operation });
      return await fn(state.platformDb);
    };
    return inTransaction();
  }

  /**
   * A platform statement on the database `tenant` is placed on: the copies a dedicated database
   * keeps of platform rows its tenant rows refer to (e.g. the users its memberships name). On the
   * shared database this is run(). Logged with the database's name.
   */
  runWhereTenantIs<T>(operation: string, tenant: Tenant, fn: (db: SystemDatabase) => Promise<T>): Promise<T> {
    if (tenant.database === SHARED_DATABASE) return this.run(operation, fn);
    audit(operation, { forTenant: tenant.id, database: tenant.database });
    return this.pools.use(tenant.database, (pool) => fn(platformHandle(pool, 'SystemDb.runWhereTenantIs cannot open a transaction: use SystemDb.transaction')));
  }

  /**
   * A transaction for a multi-step write across platform and tenant tables
   * (e.g. "tenants.create-with-owner"): BEGIN, fn, COMMIT; anything fn throws
   * rolls all of it back. Platform repositories join it through their
   * optional `tx` argument, tenant repositories through the TenantDb that
   * asTenant() gives. The handle refuses any use once the transaction ended.
   */
  transaction<T>(operation: string, fn: (tx: PlatformTransaction) => Promise<T>): Promise<T> {
    audit(operation, { transaction: operation });
    return inTransaction(this.pool, null, async (client) => {
      let state: PlatformTransactionState | undefined;
      const check = (tenantHandle: boolean) => () => {
        if (!state?.open) throw new PlatformTransactionMisuseError('A platform transaction was used after it ended');
        if (tenantHandle !== (state.tenant !== undefined)) {
          throw new PlatformTransactionMisuseError(tenantHandle ? 'The tenant handle is used outside asTenant()' : 'The platform handle is used inside asTenant()');
        }
      };
      state = {
        operation,
        open: true,
        client,
        platformDb: withoutTransactions(drizzle({ client: guardedClient(client, check(false)), schema }), 'A platform transaction cannot open another transaction'),
        tenantDb: tenantDbInTransaction(client, check(true)),
        pools: this.pools,
      };
      try {
        return await fn(new PlatformTransaction(OPEN, state));
      } finally {
        state.open = false;
      }
    });
  }

  /**
   * Runs fn in a transaction where app.user_id is set, which the
   * memberships_self_read policy needs to show that user's memberships in every tenant.
   */
  asUser<T>(operation: string, userId: string, fn: (db: SystemDatabase) => Promise<T>, database: string = SHARED_DATABASE): Promise<T> {
    audit(operation, { user: userId, database: database === SHARED_DATABASE ? undefined : database });
    const run = (pool: pg.Pool) => inTransaction(pool, { name: 'app.user_id', uuid: userId }, (client) => fn(drizzle({ client, schema })));
    return database === SHARED_DATABASE ? run(this.pool) : this.pools.use(database, run);
  }

  /** The dedicated databases of the tenant directory (TENANT_DATABASES), for the reads that span them (asUser). */
  dedicatedDatabases(): readonly string[] {
    return this.dedicated;
  }
}
