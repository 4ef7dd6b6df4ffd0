import pg from 'pg';
import { createDatabase, ensureRoles, runMigrations, withCredentials, withDatabase } from '../../src/database/provisioning';
import { APP_ROLE, OWNER_ROLE } from '../../src/database/schema/roles';
import { provisionPgBouncer, provisionRedis, startEmbeddedPostgres, state } from './services';
import { TEST_ROLE_PASSWORDS } from '../helpers/test-env';

/**
 * Runs once per `npm test`:
 * - PostgreSQL: TEST_DATABASE_URL (a superuser URL) or an embedded server in a temp dir; and a
 *   second one, TEST_DATABASE_URL_2 or another embedded server, for the dedicated databases of
 *   the scale-out tests (a tenant on each server);
 * - the two roles, then one template database migrated once as the owner role;
 *   each test file clones it (CREATE DATABASE ... TEMPLATE), so files are isolated
 *   and nothing depends on what an earlier run left behind;
 * - Redis: TEST_REDIS_URL, a local server, or redis-server from PATH;
 * - PgBouncer in transaction mode in front of that PostgreSQL: TEST_PGBOUNCER_URL, or
 *   pgbouncer from PATH or /usr/sbin (the pgbouncer project runs its tests through it).
 * What it finds is passed to the test workers through environment variables.
 */
export default async function globalSetup(): Promise<void> {
  // The second server: dedicated databases of the tenant directory live on another PostgreSQL (scale-out tests).
  const [superuserUrl, secondUrl] = await Promise.all([
    process.env.TEST_DATABASE_URL ?? startEmbeddedPostgres(),
    process.env.TEST_DATABASE_URL_2 ?? startEmbeddedPostgres('test2'),
  ]);
  const runId = `${Date.now().toString(36)}_${process.pid}`;
  const template = `tt_${runId}_tpl`;

  await ensureRoles(superuserUrl, TEST_ROLE_PASSWORDS);
  await dropStaleDatabases(superuserUrl);
  await createDatabase(superuserUrl, template);
  await runMigrations(withCredentials(withDatabase(superuserUrl, template), OWNER_ROLE, TEST_ROLE_PASSWORDS.owner));

  process.env.TEST_PG_SUPERUSER_URL = superuserUrl;
  process.env.TEST_PG2_SUPERUSER_URL = secondUrl;
  process.env.TEST_PG_TEMPLATE = template;
  process.env.TEST_RUN_ID = runId;
  process.env.TEST_REDIS_URL = await provisionRedis();
  process.env.TEST_PGBOUNCER_URL = await provisionPgBouncer(superuserUrl);
  void APP_ROLE;
}

/** On a shared server, databases of runs that crashed more than two hours ago. */
async function dropStaleDatabases(superuserUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("select datname from pg_database where datname like 'tt\\_%'");
    const cutoff = Date.now() - 2 * 60 * 60 * 1000;
    for (const { datname } of rows) {
      const started = parseInt(datname.split('_')[1] ?? '', 36);
      if (Number.isFinite(started) && started < cutoff) {
        await client.query(`drop database if exists "${datname}" with (force)`).catch(() => undefined);
      }
    }
  } finally {
    await client.end();
  }
}

export { state };
