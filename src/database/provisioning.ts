import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
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
