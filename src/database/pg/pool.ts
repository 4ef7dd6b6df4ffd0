import pg from 'pg';
import { AppError } from '../../common/errors/app-error';
import { isConnectionException, isPgServerError } from '../../common/errors/database-errors';
import { ErrorCode } from '../../common/errors/error-codes';
import { UUID_PATTERN } from '../../common/uuid';
import { AccessClaim, tagWithClaim } from '../../tenancy/tenant-context';

export interface PoolOptions {
  url: string;
  max: number;
  statementTimeoutMs: number;
  applicationName: string;
  /** DB_POOLER: what `url` points at. Default 'none', PostgreSQL itself. */
  pooler?: 'none' | 'transaction';
}

/**
 * What the statements sent on a pool's connections must carry besides their
 * own text, decided by how createPool opened those connections:
 *
 * - 'none' (direct): nothing. The timeouts are startup parameters of each
 *   connection, and the tenant batch keeps named statements per connection.
 * - 'transaction' (a transaction-mode pooler such as PgBouncer): the client
 *   connection is not the server connection; each transaction may run on
 *   another one, shared with other clients. Nothing may live on the session:
 *   no startup parameters (PgBouncer refuses those it does not know), no named
 *   statements (another client's may hold the name, or ours be elsewhere). Each
 *   transaction sets the timeouts itself, transaction-locally, in a statement it
 *   sends anyway (the tenant's, or right after BEGIN), so they cost no round trip.
 */
export type Pooling =
  | { pooler: 'none' }
  | { pooler: 'transaction'; statementTimeoutMs: number; idleInTransactionTimeoutMs: number };

export const DIRECT: Pooling = { pooler: 'none' };
/** Kept with the pool, so what its statements set can never disagree with how its connections were opened. */
const poolings = new WeakMap<pg.Pool, Pooling>();

/** How statements must be sent on the pool's connections (direct for a pool createPool did not make). */
export function poolingOf(pool: pg.Pool): Pooling {
  return poolings.get(pool) ?? DIRECT;
}

/**
 * How long a caller waits for a connection: for a free one in a full pool, for
 * a new one to connect, and (DatabasePools) for room under the pool budget.
 * Past it the request is answered 503.
 */
export const CONNECTION_WAIT_MS = 5_000;

export function createPool(options: PoolOptions): pg.Pool {
  // A transaction left open by a crashed request must not hold locks forever.
  const idleInTransactionTimeoutMs = Math.max(options.statementTimeoutMs, 10_000);
  const pooling: Pooling =
    options.pooler === 'transaction' ? { pooler: 'transaction', statementTimeoutMs: options.statementTimeoutMs, idleInTransactionTimeoutMs } : DIRECT;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: CONNECTION_WAIT_MS,
    ...(pooling.pooler === 'none' && {
      statement_timeout: options.statementTimeoutMs,
      idle_in_transaction_session_timeout: idleInTransactionTimeoutMs,
    }),
    // A startup parameter PgBouncer accepts too: it sets it on each server connection it lends.
    application_name: options.applicationName,
    // Client-side bound above the server's statement_timeout: a half-open socket cannot hang a
    // request (or a COMMIT) forever; the timed-out client is then destroyed by withClient.
    query_timeout: options.statementTimeoutMs + 5_000,
    keepAlive: true,
  });
  poolings.set(pool, pooling);
  // An idle client losing its connection emits on the pool; without a listener that crashes the process.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Whether the connection may serve another statement after `error`: a server
 * error (bad input, constraint) leaves it usable once its Sync is answered;
 * anything else (socket closed, timeout, protocol trouble) may leave it in an
 * unknown state, and a connection exception (SQLSTATE class 08, how a pooler
 * reports its own failures) comes before the pooler closes it.
 */
function leavesConnectionUsable(error: unknown): boolean {
  return isPgServerError(error) && !isConnectionException(error);
}

/**
 * A checked-out client, listened to while it is out. A connection that ends
 * (a FATAL error, a pooler's class 08 included, is followed by the close) makes
 * pg emit 'error' on the client, and pg-pool listens only while the client is
 * idle: unheard, that error would crash the process. Heard, it marks the client
 * broken, and release() destroys it instead of returning it to the pool.
 */
class Lease {
  broken?: Error;
  private readonly onError = (error: Error) => {
    this.broken ??= error;
  };

  constructor(readonly client: pg.PoolClient) {
    client.on('error', this.onError);
  }

  release(): void {
    this.client.removeListener('error', this.onError);
    this.client.release(this.broken);
  }
}

/** Borrows a client for fn; a client an error may have broken is destroyed instead of returned. */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const lease = new Lease(await pool.connect());
  try {
    return await fn(lease.client);
  } catch (error) {
    if (!leavesConnectionUsable(error)) lease.broken ??= error as Error;
    throw error;
  } finally {
    lease.release();
  }
}

/** A transaction-local setting carried by a transaction: the tenant, or the user of a self-read. */
export interface LocalSetting {
  name: 'app.tenant_id' | 'app.user_id';
  /** Must be a UUID: it is written into the BEGIN statement as a literal. */
  uuid: string;
  /** For the tenant of an admitted request: checked by tenancy_enter() right after BEGIN (see AccessClaim). */
  claim?: AccessClaim;
}

const CLAIM_KINDS: ReadonlySet<string> = new Set(['user', 'api-key']);
const ROLE_PATTERN = /^[a-z]+$/;

/** The statement after BEGIN. Every value is validated before it is spliced in as a literal: none can carry a quote. */
function enterStatement(setting: LocalSetting): string {
  if (!UUID_PATTERN.test(setting.uuid)) throw new Error(`${setting.name} must be a UUID`);
  const { claim } = setting;
  // The tenant through tenancy_set (drizzle/0015), which refuses a database the tenant is not placed on.
  if (!claim) return setting.name === 'app.tenant_id' ? `select public.tenancy_set('${setting.uuid}')` : `select set_config('${setting.name}', '${setting.uuid}', true)`;
  if (setting.name !== 'app.tenant_id' || !CLAIM_KINDS.has(claim.kind) || !UUID_PATTERN.test(claim.id) || !ROLE_PATTERN.test(claim.role)) {
    throw new Error('an access claim must name a tenant, a principal kind, a UUID and a role');
  }
  return `select 1 where not public.tenancy_enter('${setting.uuid}', '${claim.kind}', '${claim.id}', '${claim.role}')`;
}

/**
 * Behind a transaction pooler, the timeouts a direct connection gets at startup,
 * for this transaction only. The values are integers, spliced in as literals.
 */
function timeoutsStatement(pooling: Extract<Pooling, { pooler: 'transaction' }>): string {
  const { statementTimeoutMs, idleInTransactionTimeoutMs } = pooling;
  if (!Number.isSafeInteger(statementTimeoutMs) || !Number.isSafeInteger(idleInTransactionTimeoutMs)) throw new Error('timeouts must be integers');
  return `select set_config('statement_timeout', '${statementTimeoutMs}', true), set_config('idle_in_transaction_session_timeout', '${idleInTransactionTimeoutMs}', true)`;
}

/**
 * BEGIN + `set_config(setting, true)` (one round trip), fn, COMMIT; with no
 * setting (a platform transaction, SystemDb.transaction) just BEGIN. Behind a
 * transaction pooler the timeouts are set right after BEGIN, in the same round
 * trip (see Pooling). Whatever fn throws, the
 * transaction is rolled back; the connection goes back to the pool unless the
 * rollback itself failed (then the connection's state is unknown and it is
 * destroyed). A COMMIT that the server turned into a ROLLBACK (fn swallowed an
 * error inside the transaction) is reported as a failure, never as success.
 */
export async function inTransaction<T>(pool: pg.Pool, setting: LocalSetting | null, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const pooling = poolingOf(pool);
  const statements = ['begin'];
  if (pooling.pooler === 'transaction') statements.push(timeoutsStatement(pooling));
  if (setting) statements.push(enterStatement(setting));
  const begin = statements.join('; ');
  const lease = new Lease(await pool.connect());
  const { client } = lease;
  try {
    await client.query(begin).catch((error: unknown) => {
      if (setting?.claim) tagWithClaim(error, setting.claim);
      throw error;
    });
    if (setting?.claim) setting.claim.confirmed = true;
    const result = await fn(client);
    let commit: pg.QueryResult;
    try {
      commit = await client.query('commit');
    } catch (error) {
      if (leavesConnectionUsable(error)) throw error; // e.g. a deferred constraint: rolled back, a clean answer
      // The connection failed during COMMIT (a pooler reports a lost server connection as class 08):
      // the transaction may or may not have committed.
      // A 503 without Retry-After: the database was unavailable, but a blind retry of a write whose
      // outcome is unknown could apply it twice, so the client is told to read it back first.
      lease.broken ??= error as Error;
      throw Object.assign(
        new AppError(ErrorCode.OutcomeUnknown, 'The database connection failed while saving; the change may or may not have been saved. Read it back before retrying'),
        { cause: error },
      );
    }
    if (commit.command !== 'COMMIT') throw new Error(`transaction was not committed (server answered ${commit.command})`);
    return result;
  } catch (error) {
    if (!lease.broken) {
      try {
        await client.query('rollback');
      } catch (rollbackError) {
        lease.broken = rollbackError as Error;
      }
    }
    throw error;
  } finally {
    lease.release();
  }
}

/**
 * The client as a handle bound to a transaction sees it: `check` runs before
 * each statement and throws when the handle may no longer be used (its
 * transaction ended, so the connection may already serve another request).
 */
export function guardedClient(client: pg.PoolClient, check: () => void): pg.PoolClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return (...args: unknown[]): unknown => {
        check();
        return Reflect.apply(target.query, target, args);
      };
    },
  });
}
