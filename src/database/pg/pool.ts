import pg from 'pg';
import { AppError } from '../../common/errors/app-error';
import { isPgServerError } from '../../common/errors/database-errors';
import { ErrorCode } from '../../common/errors/error-codes';
import { UUID_PATTERN } from '../../common/uuid';
import { AccessClaim, tagWithClaim } from '../../tenancy/tenant-context';

export interface PoolOptions {
  url: string;
  max: number;
  statementTimeoutMs: number;
  applicationName: string;
}

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    statement_timeout: options.statementTimeoutMs,
    // A transaction left open by a crashed request must not hold locks forever.
    idle_in_transaction_session_timeout: Math.max(options.statementTimeoutMs, 10_000),
    application_name: options.applicationName,
    // Client-side bound above the server's statement_timeout: a half-open socket cannot hang a
    // request (or a COMMIT) forever; the timed-out client is then destroyed by withClient.
    query_timeout: options.statementTimeoutMs + 5_000,
    keepAlive: true,
  });
  // An idle client losing its connection emits on the pool; without a listener that crashes the process.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Borrows a client for fn. A server-side error (bad input, constraint) leaves
 * the connection usable once its Sync is answered; anything else (socket
 * closed, timeout, protocol trouble) may leave it in an unknown state, so it is
 * destroyed instead of returned.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (error) {
    if (!isPgServerError(error)) broken = error as Error;
    throw error;
  } finally {
    client.release(broken);
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
  if (!claim) return `select set_config('${setting.name}', '${setting.uuid}', true)`;
  if (setting.name !== 'app.tenant_id' || !CLAIM_KINDS.has(claim.kind) || !UUID_PATTERN.test(claim.id) || !ROLE_PATTERN.test(claim.role)) {
    throw new Error('an access claim must name a tenant, a principal kind, a UUID and a role');
  }
  return `select 1 where not public.tenancy_enter('${setting.uuid}', '${claim.kind}', '${claim.id}', '${claim.role}')`;
}

/**
 * BEGIN + `set_config(setting, true)` (one round trip), fn, COMMIT; with no
 * setting (a platform transaction, SystemDb.transaction) just BEGIN. Whatever fn throws, the
 * transaction is rolled back; the connection goes back to the pool unless the
 * rollback itself failed (then the connection's state is unknown and it is
 * destroyed). A COMMIT that the server turned into a ROLLBACK (fn swallowed an
 * error inside the transaction) is reported as a failure, never as success.
 */
export async function inTransaction<T>(pool: pg.Pool, setting: LocalSetting | null, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const begin = setting ? `begin; ${enterStatement(setting)}` : 'begin';
  const client = await pool.connect();
  let broken: Error | undefined;
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
      if (isPgServerError(error)) throw error; // e.g. a deferred constraint: rolled back, a clean answer
      // The connection failed during COMMIT: the transaction may or may not have committed.
      // Never a "retry" (503): retrying a write whose outcome is unknown could apply it twice.
      broken = error as Error;
      throw new AppError(ErrorCode.Internal, `transaction outcome unknown: ${(error as Error).message}`);
    }
    if (commit.command !== 'COMMIT') throw new Error(`transaction was not committed (server answered ${commit.command})`);
    return result;
  } catch (error) {
    if (!broken) {
      try {
        await client.query('rollback');
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
    }
    throw error;
  } finally {
    client.release(broken);
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
