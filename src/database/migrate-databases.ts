import { performance } from 'node:perf_hooks';
import { messageOf, withoutPasswords } from '../common/errors/error-messages';
import { MigrationState as SchemaState, migrationStateOf, shippedMigrations } from './database-probe';
import { applyMigrations, MIGRATIONS_FOLDER, migrationRecord } from './provisioning';

/**
 * `migrate --all` and `migrate --status --all` (README "Ops CLI"). Every database tenants live on (the
 * shared one, and each dedicated one of TENANT_DATABASES) carries the same schema and its own drizzle
 * bookkeeping, so each is migrated on its own: applyMigrations, one transaction per migration, under
 * that database's advisory lock. A failure leaves its database at the last migration that committed;
 * running again resumes there, and finds nothing pending in the databases already done.
 */

/** A database to migrate: its name (shared, or a TENANT_DATABASES key) and its owner role's URL. */
export interface MigrationTarget {
  name: string;
  migrationUrl: string;
}

/**
 * - migrated: at least one migration applied, all pending ones now are;
 * - up-to-date: nothing was pending;
 * - failed: a migration (or the connection) failed; `applied` holds those that committed before it;
 * - not-started: the run stopped at another database's failure before reaching this one.
 */
export type MigrationOutcome = 'migrated' | 'up-to-date' | 'failed' | 'not-started';

export interface DatabaseMigrationResult {
  database: string;
  outcome: MigrationOutcome;
  /** Tags applied by this run, in order (drizzle/<tag>.sql). */
  applied: string[];
  /** Why it failed, passwords masked. */
  error?: string;
  ms: number;
}

/** stop: no database starts after the first failure (those running finish); continue: every database is tried. */
export type FailurePolicy = 'stop' | 'continue';

export type MigrationProgress = { kind: 'started'; database: string } | { kind: 'finished'; result: DatabaseMigrationResult };

export interface MigrateDatabasesOptions {
  /** How many databases are migrated at once (>= 1). */
  concurrency: number;
  onFailure: FailurePolicy;
  onProgress?: (event: MigrationProgress) => void;
  /** drizzle/ unless a test brings its own. */
  folder?: string;
}

/** Results in the order of `targets`. Never rejects for a database's failure: that is its result's outcome. */
export async function migrateDatabases(targets: MigrationTarget[], options: MigrateDatabasesOptions): Promise<DatabaseMigrationResult[]> {
  const notify = options.onProgress ?? (() => undefined);
  let stopped = false;
  const results = await forEachBounded(targets, options.concurrency, () => !stopped, async (target) => {
    notify({ kind: 'started', database: target.name });
    const result = await migrateOne(target, options.folder ?? MIGRATIONS_FOLDER);
    // Before anyone hears of it, so no worker takes another database once a failure is known.
    if (result.outcome === 'failed' && options.onFailure === 'stop') stopped = true;
    notify({ kind: 'finished', result });
    return result;
  });
  return targets.map((target, index) => results[index] ?? { database: target.name, outcome: 'not-started', applied: [], ms: 0 });
}

async function migrateOne(target: MigrationTarget, folder: string): Promise<DatabaseMigrationResult> {
  const started = performance.now();
  const applied: string[] = [];
  const elapsed = () => Math.round(performance.now() - started);
  try {
    await applyMigrations(target.migrationUrl, (migration) => applied.push(migration.tag), folder);
    return { database: target.name, outcome: applied.length > 0 ? 'migrated' : 'up-to-date', applied, ms: elapsed() };
  } catch (error) {
    return { database: target.name, outcome: 'failed', applied, error: withoutPasswords(messageOf(error)), ms: elapsed() };
  }
}

/**
 * - current: every migration this build ships is applied;
 * - behind: some are pending (what `migrate --all` applies; the API refuses its tenants, DATABASE_BEHIND);
 * - ahead: it has migrations this build does not know (a newer release migrated it);
 * - unreachable: its bookkeeping could not be read (`error` says why).
 */
export type DatabaseState = SchemaState | 'unreachable';

export interface DatabaseVersion {
  database: string;
  state: DatabaseState;
  /** Migrations recorded in the database (null: unreachable). */
  applied: number | null;
  /** Tag of the newest one, null when none or not one this build ships. */
  latest: string | null;
  /** Migrations this build ships that the database lacks. */
  pending: number | null;
  error?: string;
}

/** Where each database stands, read as its owner role (drizzle's bookkeeping). Changes nothing. In the order of `targets`. */
export async function databaseVersions(targets: MigrationTarget[], options: { concurrency?: number; folder?: string } = {}): Promise<DatabaseVersion[]> {
  const folder = options.folder ?? MIGRATIONS_FOLDER;
  const shipped = shippedMigrations(folder);
  const versions = await forEachBounded(targets, options.concurrency ?? 4, () => true, async (target): Promise<DatabaseVersion> => {
    try {
      const record = await migrationRecord(target.migrationUrl, folder);
      return {
        database: target.name,
        state: migrationStateOf(record.lastAppliedAt ?? 0, shipped),
        applied: record.recorded,
        latest: record.migrations.find((migration) => migration.createdAt === record.lastAppliedAt)?.tag ?? null,
        pending: record.migrations.filter((migration) => !migration.applied).length,
      };
    } catch (error) {
      return { database: target.name, state: 'unreachable', applied: null, latest: null, pending: null, error: withoutPasswords(messageOf(error)) };
    }
  });
  return versions as DatabaseVersion[];
}

/**
 * `work` over `items` with at most `concurrency` at once, in order of `items`; an item is taken only
 * while `mayStart()` holds. The result array has a hole for each item never taken.
 */
async function forEachBounded<T, R>(items: T[], concurrency: number, mayStart: () => boolean, work: (item: T) => Promise<R>): Promise<Array<R | undefined>> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
  const results: Array<R | undefined> = new Array(items.length).fill(undefined);
  let next = 0;
  const worker = async () => {
    while (next < items.length && mayStart()) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
