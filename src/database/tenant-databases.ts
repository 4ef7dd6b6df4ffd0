import pg from 'pg';
import { SHARED_DATABASE, TenantDatabaseSettings } from '../config/env.schema';
import { applyMigrations, createDatabase, databaseExists, ensureRoles, MigrationState } from './provisioning';
import { APP_ROLE, OWNER_ROLE } from './schema/roles';
import type { PlanRow } from './schema';

/** What a dedicated database needs of the tenant's plan: the anchor row's foreign key (copied as it is now). */
export type AnchorPlan = Pick<PlanRow, 'id' | 'name' | 'features' | 'limits'>;

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
 * The tenant's anchor in its dedicated database: a tenants row (what the tenant tables' foreign
 * keys and tenancy_set() need) and its plan's row (the anchor's foreign key), written before any
 * of its rows. Only the id and the placement count there: slug and name are derived from the id
 * (the shared database's row is the one read for slug, name, status and plan), so an anchor left
 * by a creation that failed later can never collide with another tenant's.
 */
export async function anchorTenant(name: string, settings: TenantDatabaseSettings, tenantId: string, plan: AnchorPlan): Promise<void> {
  const anchorSlug = `t-${tenantId.replace(/-/g, '')}`;
  await withOwner(settings, async (client) => {
    await client.query('begin');
    try {
      await client.query(
        `insert into public.plans (id, name, features, limits) values ($1, $2, $3, $4)
         on conflict (id) do update set name = excluded.name, features = excluded.features, limits = excluded.limits, updated_at = now()`,
        [plan.id, plan.name, plan.features, JSON.stringify(plan.limits)],
      );
      await client.query(
        `insert into public.tenants (id, slug, name, plan, database) values ($1, $2, $2, $3, $4)
         on conflict (id) do update set plan = excluded.plan, database = excluded.database, updated_at = now()`,
        [tenantId, anchorSlug, plan.id, name],
      );
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  });
}

/**
 * The registered databases (TENANT_DATABASES) for the features that place tenants: which names
 * exist, and placing a tenant on one (provisioning it on first use, one at a time per database).
 */
export class TenantDatabases {
  /** Per database: its provisioning, running or done (one at a time, once per process). */
  private readonly preparing = new Map<string, Promise<PreparedDatabase>>();

  constructor(private readonly registry: Readonly<Record<string, TenantDatabaseSettings>>) {}

  /** "shared" or a registered dedicated database. */
  isRegistered(name: string): boolean {
    return name === SHARED_DATABASE || Object.hasOwn(this.registry, name);
  }

  /** The dedicated databases, by name. */
  dedicatedNames(): string[] {
    return Object.keys(this.registry).sort();
  }

  /** Provisions the database if needed (idempotent) and writes the tenant's anchor there. */
  async place(name: string, tenantId: string, plan: AnchorPlan): Promise<void> {
    const settings = this.registry[name];
    if (!settings) throw new Error(`No database "${name}" is registered (TENANT_DATABASES)`);
    let prepared = this.preparing.get(name);
    if (!prepared) {
      // Kept once it succeeded: later placements on this database only write their anchor (its
      // schema version is still checked when a pool opens). A failure is forgotten, so the next one retries.
      prepared = prepareTenantDatabase(name, settings).catch((error: unknown) => {
        this.preparing.delete(name);
        throw error;
      });
      this.preparing.set(name, prepared);
    }
    await prepared;
    await anchorTenant(name, settings, tenantId, plan);
  }
}
