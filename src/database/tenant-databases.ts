import pg from 'pg';
import { TenantDatabaseSettings } from '../config/env.schema';
import { applyMigrations, createDatabase, databaseExists, ensureRoles, MigrationState } from './provisioning';
import { APP_ROLE, OWNER_ROLE } from './schema/roles';
import type { PlanRow, TenantRow } from './schema';

/**
 * Provisioning of dedicated databases (the tenant directory, docs/scale-out.md). Runs with the
 * owner role of the database (TENANT_DATABASES' migrationUrl) and, only to create it, the
 * adminUrl role: never with the runtime role, and never from a request's input (the settings
 * come from configuration). Every step is idempotent, so a provisioning interrupted half way is
 * finished by running it again.
 */

export interface PreparedDatabase {
  /** Whether this call created the database (false: it existed). */
  created: boolean;
  /** Migrations this call applied (every one for a new database). */
  applied: MigrationState[];
}

function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error('a dedicated database URL must name its database');
  return name;
}

/** The role and password a URL carries, checked against the role it must be. */
function credentialsOf(url: string, role: string, setting: string): string {
  const parsed = new URL(url);
  if (decodeURIComponent(parsed.username) !== role) throw new Error(`${setting} must connect as ${role}`);
  return decodeURIComponent(parsed.password);
}

async function withOwner<T>(settings: TenantDatabaseSettings, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: settings.migrationUrl, application_name: 'tenancy-provisioning' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Makes `name`'s database ready for tenants: with an adminUrl, the roles (only if missing: they
 * are cluster-wide, and may already serve the shared database with these passwords) and the
 * database (owned by the owner role, only the runtime role may connect); then its name in
 * database_identity (what tenancy_set() checks) and every pending migration.
 */
export async function prepareTenantDatabase(name: string, settings: TenantDatabaseSettings, onApplied?: (migration: MigrationState) => void): Promise<PreparedDatabase> {
  let created = false;
  if (settings.adminUrl) {
    const adminUrl = settings.adminUrl;
    const passwords = { owner: credentialsOf(settings.migrationUrl, OWNER_ROLE, 'migrationUrl'), app: credentialsOf(settings.url, APP_ROLE, 'url') };
    if (!(await rolesExist(adminUrl))) await ensureRoles(adminUrl, passwords);
    const database = databaseNameOf(settings.url);
    if (!(await databaseExists(adminUrl, database))) {
      await createDatabase(adminUrl, database).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created meanwhile by a concurrent provisioning
      });
      created = true;
    }
  }
  const applied = await applyMigrations(settings.migrationUrl, (migration) => onApplied?.(migration));
  await withOwner(settings, async (client) => {
    const { rows } = await client.query<{ name: string }>('select name from public.database_identity');
    if (rows.length === 0) await client.query('insert into public.database_identity (name) values ($1) on conflict do nothing', [name]);
    else if (rows[0].name !== name) throw new Error(`database of "${name}" already belongs to the directory as "${rows[0].name}"`);
  });
  return { created, applied };
}

async function rolesExist(adminUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'tenancy-provisioning' });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: number }>('select count(*)::int as count from pg_roles where rolname = any($1)', [[OWNER_ROLE, APP_ROLE]]);
    return rows[0].count === 2;
  } finally {
    await client.end();
  }
}

/**
 * The tenant's anchor in its dedicated database: its tenants row (what the tenant tables' foreign
 * keys and tenancy_set() need; the shared database's row stays the one that counts for status,
 * plan and name) and its plan's row (the anchor's foreign key), written before any of its rows.
 */
export async function anchorTenant(name: string, settings: TenantDatabaseSettings, tenant: Pick<TenantRow, 'id' | 'slug' | 'name' | 'status'>, plan: PlanRow): Promise<void> {
  await withOwner(settings, async (client) => {
    await client.query('begin');
    try {
      await client.query(
        `insert into public.plans (id, name, features, limits) values ($1, $2, $3, $4)
         on conflict (id) do update set name = excluded.name, features = excluded.features, limits = excluded.limits, updated_at = now()`,
        [plan.id, plan.name, plan.features, JSON.stringify(plan.limits)],
      );
      await client.query(
        `insert into public.tenants (id, slug, name, status, plan, database) values ($1, $2, $3, $4, $5, $6)
         on conflict (id) do update set slug = excluded.slug, name = excluded.name, status = excluded.status, plan = excluded.plan, database = excluded.database, updated_at = now()`,
        [tenant.id, tenant.slug, tenant.name, tenant.status, plan.id, name],
      );
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  });
}
