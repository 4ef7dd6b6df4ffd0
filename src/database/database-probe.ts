import { readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { withClient } from './pg/pool';
import { queryWithStatementTimeout } from './pg/tenant-batch-query';
import { MIGRATIONS_FOLDER } from './provisioning';

/** The migrations this build ships: drizzle/meta/_journal.json, read once at boot. */
export interface ShippedMigrations {
  count: number;
  /** The newest entry's "when": what drizzle's migrator records as created_at. */
  latestWhen: number;
}

export function shippedMigrations(folder = MIGRATIONS_FOLDER): ShippedMigrations {
  const journal = JSON.parse(readFileSync(path.join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ when: number }> };
  return { count: journal.entries.length, latestWhen: Math.max(0, ...journal.entries.map((e) => e.when)) };
}

/**
 * - current: the newest migration this build ships is applied.
 * - ahead: the database has newer ones too (a newer release migrated it during a
 *   rolling deploy); migrations are additive, so this build still serves.
 * - behind: a migration this build needs is missing: not ready.
 */
export type MigrationState = 'current' | 'ahead' | 'behind';

/** Where a database whose newest recorded migration has `latestCreatedAt` (0: none) stands against this build. */
export function migrationStateOf(latestCreatedAt: number, shipped: ShippedMigrations): MigrationState {
  return latestCreatedAt < shipped.latestWhen ? 'behind' : latestCreatedAt > shipped.latestWhen ? 'ahead' : 'current';
}

/** 42883 (undefined_function) from the probe: app_migrations_status() is missing, so migration 0008 (at least) is not applied. */
export function isMigrationStatusMissing(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === '42883';
}

export interface DatabaseProbeResult {
  migrations: { state: MigrationState; applied: number; shipped: number };
}

/**
 * Readiness' view of PostgreSQL: one statement on the runtime pool, as the
 * runtime role, so "reachable" means reachable by the role requests use, with
 * its credentials and privileges. app_user cannot read drizzle's migrations
 * table; public.app_migrations_status() (migration 0008, SECURITY DEFINER)
 * answers for it. Like PoolStats, it holds the pool privately: no query handle
 * leaves this class.
 */
export class DatabaseProbe {
  constructor(
    private readonly pool: pg.Pool,
    private readonly shipped: ShippedMigrations = shippedMigrations(),
  ) {}

  /** Rejects when PostgreSQL does not answer within statementTimeoutMs, or the function is missing (0008 not applied). */
  async check(statementTimeoutMs: number): Promise<DatabaseProbeResult> {
    // Timeout set transaction-locally in the same round trip: valid directly and behind a transaction pooler.
    const { rows } = await withClient(this.pool, (client) =>
      queryWithStatementTimeout(client, { text: 'select applied, latest_created_at from public.app_migrations_status()' }, statementTimeoutMs),
    );
    const row = rows[0] as { applied: number; latest_created_at: string | null } | undefined;
    const applied = row?.applied ?? 0;
    // bigint arrives as a string; milliseconds since 1970 fit a double exactly.
    const latest = row?.latest_created_at == null ? 0 : Number(row.latest_created_at);
    return { migrations: { state: migrationStateOf(latest, this.shipped), applied, shipped: this.shipped.count } };
  }
}

/** Seconds a client should wait before retrying a tenant whose database is being migrated. */
export const DATABASE_BEHIND_RETRY_AFTER_SECONDS = 30;

/**
 * DATABASE_BEHIND (503): the tenant's database lacks migrations this build needs. The client sees
 * neither the database's name nor where it is; `database` is for the log.
 */
export class DatabaseBehindError extends AppError {
  constructor(readonly database: string) {
    super(ErrorCode.DatabaseBehind, "The tenant's data is being upgraded, retry shortly", undefined, {
      'retry-after': String(DATABASE_BEHIND_RETRY_AFTER_SECONDS),
    });
    this.name = 'DatabaseBehindError';
  }
}

/**
 * For the data layer, when it opens the pool of a dedicated database (`name`): throws DatabaseBehindError
 * unless that database has every migration this build ships, so a tenant placed there is refused rather
 * than served against an old schema. Asked on the pool itself, as the runtime role, through the same
 * probe as readiness (app_migrations_status(), migration 0008; a database without it is behind too).
 * A database with newer migrations ("ahead", a rolling deploy) passes: migrations are additive. Any
 * other failure (unreachable, timeout) is rethrown as it is, for the usual 503 mapping.
 */
export async function assertSchemaCurrent(
  pool: pg.Pool,
  name: string,
  options: { statementTimeoutMs?: number; shipped?: ShippedMigrations } = {},
): Promise<void> {
  let state: MigrationState;
  try {
    state = (await new DatabaseProbe(pool, options.shipped).check(options.statementTimeoutMs ?? 5_000)).migrations.state;
  } catch (error) {
    if (isMigrationStatusMissing(error)) throw new DatabaseBehindError(name);
    throw error;
  }
  if (state === 'behind') throw new DatabaseBehindError(name);
}
