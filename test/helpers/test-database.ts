import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabase, dropDatabase, restrictDatabaseAccess, withCredentials, withDatabase } from '../../src/database/provisioning';
import { APP_ROLE, OWNER_ROLE } from '../../src/database/schema/roles';
import { pgbouncerUrl, throughPgBouncer } from './pgbouncer';
import { TEST_ROLE_PASSWORDS } from './test-env';

export interface TestDatabase {
  name: string;
  /** Superuser: for test setup only (it bypasses RLS). */
  superuserUrl: string;
  /** app_owner: owns the tables, migrations; sees no tenant rows either. */
  ownerUrl: string;
  /** app_user: what the API connects as (through PgBouncer in the pgbouncer project). */
  appUrl: string;
  drop(): Promise<void>;
}

let counter = 0;

/** A fresh, migrated database cloned from the run's template (see global-setup.ts). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const superuser = process.env.TEST_PG_SUPERUSER_URL;
  const template = process.env.TEST_PG_TEMPLATE;
  const runId = process.env.TEST_RUN_ID;
  if (!superuser || !template || !runId) throw new Error('Run tests through jest (npm test): global setup provisions PostgreSQL');
  // Random part: the counter restarts in every test file a worker runs, and a file that failed before
  // dropping its database must not make the next one's name collide.
  const name = `tt_${runId}_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: superuser });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`create database "${name}" template "${template}" owner "${OWNER_ROLE}"`);
        break;
      } catch (error) {
        // 55006: the template is briefly "being accessed" by a concurrent clone.
        if ((error as { code?: string }).code !== '55006' || attempt > 20) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.end();
  }
  await restrictDatabaseAccess(superuser, name);
  return handleOf(superuser, name);
}

/**
 * An empty database, owned and restricted as `cli setup` leaves a new one (the roles exist: global
 * setup ran ensureRoles), for migrating from scratch. `label` goes into its name (lowercase, digits, "_").
 */
export async function createEmptyTestDatabase(label = 'empty'): Promise<TestDatabase> {
  const superuser = process.env.TEST_PG_SUPERUSER_URL;
  const runId = process.env.TEST_RUN_ID;
  if (!superuser || !runId) throw new Error('Run tests through jest (npm test): global setup provisions PostgreSQL');
  const name = `tt_${runId}_${label}_${randomBytes(3).toString('hex')}`;
  await createDatabase(superuser, name);
  return handleOf(superuser, name);
}

function handleOf(superuser: string, name: string): TestDatabase {
  const base = withDatabase(superuser, name);
  return {
    name,
    superuserUrl: base,
    ownerUrl: withCredentials(base, OWNER_ROLE, TEST_ROLE_PASSWORDS.owner),
    appUrl: throughPgBouncer() ? pgbouncerUrl(name, APP_ROLE, TEST_ROLE_PASSWORDS.app) : withCredentials(base, APP_ROLE, TEST_ROLE_PASSWORDS.app),
    drop: () => dropDatabase(superuser, name),
  };
}

/** Every base table in schema public with a tenant_id column. */
export async function tenantTables(client: pg.Client | pg.PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ table_name: string }>(
    `select c.table_name from information_schema.columns c
       join information_schema.tables t using (table_schema, table_name)
      where c.table_schema = 'public' and c.column_name = 'tenant_id' and t.table_type = 'BASE TABLE'
      order by 1`,
  );
  return rows.map((r) => r.table_name);
}
