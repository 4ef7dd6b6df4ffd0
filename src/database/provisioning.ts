import { readFileSync } from 'node:fs';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { APP_ROLE, OWNER_ROLE } from './schema/roles';

/**
 * Cluster and database setup that needs a superuser, shared by embedded mode,
 * the test harness and `npm run db:setup`. Idempotent.
 */

export const MIGRATIONS_FOLDER = path.resolve(__dirname, '..', '..', 'drizzle');

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function identifier(value: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(value)) throw new Error(`Unsafe identifier: ${value}`);
  return `"${value}"`;
}

export interface RolePasswords {
  owner: string;
  app: string;
}

/** Creates (or resets the passwords of) the owner and the runtime role. */
export async function ensureRoles(superuserUrl: string, passwords: RolePasswords): Promise<void> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    for (const [role, password] of [
      [OWNER_ROLE, passwords.owner],
      [APP_ROLE, passwords.app],
    ] as const) {
      // Concurrent first runs (parallel CI jobs) may race on CREATE ROLE; 42710 = already exists.
      const exists = await client.query('select 1 from pg_roles where rolname = $1', [role]);
      if (exists.rowCount === 0) {
        await client.query(`create role ${identifier(role)} login`).catch((error) => {
          if (error.code !== '42710' && error.code !== '23505') throw error;
        });
      }
      await client.query(
        `alter role ${identifier(role)} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password ${literal(password)}`,
      );
    }
  } finally {
    await client.end();
  }
}

/** Creates a database owned by the owner role, with no rights for anyone else but schema usage for the app. */
export async function createDatabase(superuserUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    await client.query(
      `create database ${identifier(name)} owner ${identifier(OWNER_ROLE)}`,
    );
  } finally {
    await client.end();
  }
  await restrictDatabaseAccess(superuserUrl, name);
}

/**
 * Database-level rights: only the app role may connect, nobody else may create
 * schemas or temp tables. These live on pg_database, which CREATE DATABASE ...
 * TEMPLATE does not copy, so clones need this call too.
 */
export async function restrictDatabaseAccess(superuserUrl: string, name: string): Promise<void> {
  const db = new pg.Client({ connectionString: withDatabase(superuserUrl, name) });
  await db.connect();
  try {
    await db.query(`
      revoke all on database ${identifier(name)} from public;
      grant connect on database ${identifier(name)} to ${identifier(APP_ROLE)};
      alter schema public owner to ${identifier(OWNER_ROLE)};
      revoke all on schema public from public;
      grant usage on schema public to ${identifier(APP_ROLE)};
    `);
  } finally {
    await db.end();
  }
}

/** Drops a database even while clients are connected (throwaway test and bench databases). */
export async function dropDatabase(superuserUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${identifier(name)} with (force)`);
  } finally {
    await client.end();
  }
}

export async function databaseExists(superuserUrl: string, name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    const result = await client.query('select 1 from pg_database where datname = $1', [name]);
    return result.rowCount === 1;
  } finally {
    await client.end();
  }
}

/** Applies drizzle/ migrations. Call with the owner role's URL, never the app role's. */
export async function runMigrations(ownerUrl: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: ownerUrl, max: 1 });
  try {
    await migrate(drizzle({ client: pool }), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await pool.end();
  }
}

/** The same server and database, another user. */
export function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export interface MigrationState {
  /** The file name without .sql, e.g. "0002_invitations". */
  tag: string;
  /** The journal's timestamp (drizzle's folderMillis): the order, and what the bookkeeping row records. */
  createdAt: number;
  applied: boolean;
}

interface JournalEntry {
  tag: string;
  when: number;
}

const MIGRATIONS_TABLE = '"drizzle"."__drizzle_migrations"';
/**
 * One migrator at a time per database (two deploys, or the compose step and MIGRATE_ON_BOOT): the key of
 * the session advisory lock applyMigrations holds. Advisory locks are per database, so migrators of
 * different databases never wait for each other.
 */
export const MIGRATION_LOCK = "hashtext('tenancy.migrations')";

function journal(folder: string): JournalEntry[] {
  return (JSON.parse(readFileSync(path.join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] }).entries;
}

/** What a database's bookkeeping table holds: its rows, and the newest one's timestamp (none: nothing applied). */
interface Bookkeeping {
  recorded: number;
  lastAppliedAt?: number;
}

async function readBookkeeping(client: pg.Client): Promise<Bookkeeping> {
  const { rows } = await client.query<{ exists: boolean }>(`select to_regclass('drizzle.__drizzle_migrations') is not null as exists`);
  if (!rows[0].exists) return { recorded: 0 };
  const last = await client.query<{ recorded: number; created_at: string | null }>(
    `select count(*)::integer as recorded, max(created_at)::text as created_at from ${MIGRATIONS_TABLE}`,
  );
  const { recorded, created_at } = last.rows[0];
  return { recorded, lastAppliedAt: created_at === null ? undefined : Number(created_at) };
}

/**
 * drizzle's own rule, so both migrators agree: a migration counts as applied when
 * its timestamp is not after the newest bookkeeping row's.
 */
function statesOf(entries: JournalEntry[], last: number | undefined): MigrationState[] {
  return entries.map((entry) => ({ tag: entry.tag, createdAt: entry.when, applied: last !== undefined && entry.when <= last }));
}

/**
 * A database's migrations as its bookkeeping says, read as the owner: every migration of `folder`
 * applied or pending, and the raw record, which also counts migrations this build does not ship
 * (a newer release migrated the database).
 */
export interface MigrationRecord extends Bookkeeping {
  migrations: MigrationState[];
}

/** Reads only. Owner URL. */
export async function migrationRecord(ownerUrl: string, folder = MIGRATIONS_FOLDER): Promise<MigrationRecord> {
  const client = new pg.Client({ connectionString: ownerUrl, application_name: 'tenancy-cli' });
  await client.connect();
  try {
    const bookkeeping = await readBookkeeping(client);
    return { ...bookkeeping, migrations: statesOf(journal(folder), bookkeeping.lastAppliedAt) };
  } finally {
    await client.end();
  }
}

/** Every migration of `folder` (drizzle/ by default), applied or pending. Reads only. Owner URL. */
export async function migrationStatus(ownerUrl: string, folder = MIGRATIONS_FOLDER): Promise<MigrationState[]> {
  return (await migrationRecord(ownerUrl, folder)).migrations;
}

/**
 * The ops CLI's migrator: the same files, bookkeeping table and rule as
 * runMigrations (drizzle's migrate), so either can follow the other, but one
 * transaction per migration, reported as each commits (the CLI's progress
 * bar). drizzle applies all pending migrations in one transaction; here a
 * failure in the third of five leaves the first two applied and the database
 * at a migration boundary, and the next run resumes there. Held under an
 * advisory lock, so two migrators on one database wait for each other.
 */
export async function applyMigrations(
  ownerUrl: string,
  onApplied: (migration: MigrationState, pending: MigrationState[]) => void = () => undefined,
  folder = MIGRATIONS_FOLDER,
): Promise<MigrationState[]> {
  const entries = journal(folder);
  // drizzle's reader: the same statement split and the same hash in the bookkeeping row.
  const files = readMigrationFiles({ migrationsFolder: folder });
  const client = new pg.Client({ connectionString: ownerUrl, application_name: 'tenancy-cli' });
  await client.connect();
  try {
    await client.query(`select pg_advisory_lock(${MIGRATION_LOCK})`);
    await client.query('create schema if not exists "drizzle"');
    await client.query(`create table if not exists ${MIGRATIONS_TABLE} (id serial primary key, hash text not null, created_at bigint)`);
    const pending = statesOf(entries, (await readBookkeeping(client)).lastAppliedAt).filter((state) => !state.applied);
    for (const migration of pending) {
      const file = files.find((candidate) => candidate.folderMillis === migration.createdAt);
      if (!file) throw new Error(`drizzle/${migration.tag}.sql is listed in meta/_journal.json but was not read`);
      await client.query('begin');
      try {
        for (const statement of file.sql) if (statement.trim()) await client.query(statement);
        await client.query(`insert into ${MIGRATIONS_TABLE} (hash, created_at) values ($1, $2)`, [file.hash, file.folderMillis]);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw Object.assign(new Error(`migration ${migration.tag} failed: ${(error as Error).message}`), { cause: error });
      }
      migration.applied = true;
      onApplied(migration, pending);
    }
    return pending;
  } finally {
    await client.end();
  }
}
