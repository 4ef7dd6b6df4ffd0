import { withDatabase } from '../../src/database/provisioning';
import { APP_ROLE } from '../../src/database/schema/roles';
import { startThrowawayPostgres } from '../../src/runtime/embedded-postgres';
import { assertTransactionMode, findPgBouncer, startPgBouncer } from '../../src/runtime/pgbouncer';
import { findRedisServer, redisAnswers, startRedisServer } from '../../src/runtime/redis-server';
import { TEST_ROLE_PASSWORDS } from '../helpers/test-env';

/** Shared between global setup (which starts things) and teardown (which stops them). */
export const state: {
  stopPostgres: Array<() => Promise<void>>;
  stopRedis?: () => Promise<void>;
  stopPgBouncer?: () => Promise<void>;
  cleanup: Array<() => Promise<void> | void>;
} = { cleanup: [], stopPostgres: [] };

/** An embedded PostgreSQL in a temp dir, tuned for throwaway data; returns a superuser URL. */
export async function startEmbeddedPostgres(label = 'test'): Promise<string> {
  // fsync off: test data is thrown away, and it makes CREATE DATABASE ... TEMPLATE fast.
  const postgres = await startThrowawayPostgres(label, ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']);
  state.stopPostgres.push(postgres.stop);
  return postgres.superuserUrl;
}

/** TEST_REDIS_URL, else a local server on 6379, else redis-server from PATH on a free port. */
export async function provisionRedis(): Promise<string> {
  const configured = process.env.TEST_REDIS_URL;
  if (configured) {
    if (!(await redisAnswers(configured))) throw new Error(`TEST_REDIS_URL=${configured} does not answer PING`);
    return configured;
  }
  const local = 'redis://127.0.0.1:6379';
  if (await redisAnswers(local)) return local;
  if (!findRedisServer()) {
    throw new Error(
      'Tests need Redis: set TEST_REDIS_URL, start one on 127.0.0.1:6379, or install redis-server (e.g. apt-get install redis-server).',
    );
  }
  const server = await startRedisServer();
  state.stopRedis = server.stop;
  return server.url;
}

/** The server pool per database and user: far fewer server connections than the app's pool opens. */
const PGBOUNCER_POOL_SIZE = 3;
const PGBOUNCER_HELP =
  'set TEST_PGBOUNCER_URL to a running transaction-mode PgBouncer in front of the tests\' PostgreSQL (postgres://user:password@host:port, a user in its stats_users)';

/**
 * TEST_PGBOUNCER_URL, else PgBouncer from PATH or /usr/sbin (where Debian's package puts it) on a
 * free port, in transaction mode, in front of the suite's PostgreSQL (src/runtime/pgbouncer.ts).
 * Returns a URL of its admin console (database "pgbouncer") as a user that may run SHOW; the tests
 * take host and port from it for the app role. Never a PgBouncer that happens to listen on 6432:
 * its pool mode and users are not the suite's to choose.
 */
export async function provisionPgBouncer(superuserUrl: string): Promise<string> {
  const configured = process.env.TEST_PGBOUNCER_URL;
  if (configured) {
    await assertTransactionMode(withDatabase(configured, 'pgbouncer'), `TEST_PGBOUNCER_URL=${configured}`, PGBOUNCER_HELP);
    return withDatabase(configured, 'pgbouncer');
  }
  if (!findPgBouncer()) throw new Error(`Tests need PgBouncer: install it (e.g. apt-get install pgbouncer), or ${PGBOUNCER_HELP}.`);
  const bouncer = await startPgBouncer({
    postgresUrl: superuserUrl,
    users: [{ name: APP_ROLE, password: TEST_ROLE_PASSWORDS.app }],
    poolSize: PGBOUNCER_POOL_SIZE,
    label: 'test',
  });
  state.stopPgBouncer = bouncer.stop;
  return bouncer.adminUrl;
}
