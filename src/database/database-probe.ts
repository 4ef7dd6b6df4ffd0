import { readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
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
    const state: MigrationState = latest < this.shipped.latestWhen ? 'behind' : latest > this.shipped.latestWhen ? 'ahead' : 'current';
    return { migrations: { state, applied, shipped: this.shipped.count } };
  }
}
