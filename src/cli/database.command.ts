import { Command, Option } from 'commander';
import { z } from 'zod';
import { migrateEnvSchema, setupEnvSchema, SHARED_DATABASE, validateEnv } from '../config/env.schema';
import { databaseVersions, FailurePolicy, MigrationOutcome, MigrationTarget, migrateDatabases } from '../database/migrate-databases';
import { applyMigrations, createDatabase, databaseExists, ensureRoles, migrationStatus } from '../database/provisioning';
import { positiveInt } from './cli-arguments';
import { UsageError } from './cli-errors';
import { printJson, printLines, printTable } from './cli-output';
import { Progress, startProgress } from './cli-progress-bar';

type Env = Record<string, string | undefined>;
type MigrateEnv = z.infer<typeof migrateEnvSchema>;

interface MigrateOptions {
  status?: boolean;
  all?: boolean;
  concurrency?: number;
  onFailure?: FailurePolicy;
  json?: boolean;
}

/** How many databases `migrate --all` works on at once unless --concurrency says otherwise. */
const DEFAULT_CONCURRENCY = 4;

/** `migrate [--status] [--all]`: the owner role's job (DATABASE_MIGRATION_URL, each migrationUrl), never the API's runtime role. */
export function migrateCommand(env: Env): Command {
  return new Command('migrate')
    .description('apply pending drizzle/ migrations as the owner role (DATABASE_MIGRATION_URL), one transaction each; with --all, on every dedicated database (TENANT_DATABASES) too')
    .option('--status', 'list every migration as applied or pending (with --all: each database\'s version), change nothing')
    .option('--all', 'the shared database and every database of TENANT_DATABASES (each through its migrationUrl)')
    .option('--concurrency <n>', `with --all: how many databases at once (1-1000, default ${DEFAULT_CONCURRENCY})`, positiveInt)
    .addOption(
      new Option('--on-failure <policy>', 'with --all: stop (default: no database starts after a failure; those running finish) or continue (every database is tried)').choices(['stop', 'continue']),
    )
    .option('--json', 'print JSON')
    .action(async (options: MigrateOptions) => {
      if (!options.all && (options.concurrency !== undefined || options.onFailure !== undefined)) throw new UsageError('--concurrency and --on-failure go with --all');
      if (options.status && options.onFailure !== undefined) throw new UsageError('--on-failure goes with migrating, not with --status');
      const migrateEnv = validateEnv(migrateEnvSchema, env);
      if (options.all) {
        const targets = migrationTargets(migrateEnv);
        const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
        return options.status ? printVersions(targets, concurrency, options.json) : migrateAll(targets, concurrency, options.onFailure ?? 'stop', options.json);
      }
      const ownerUrl = migrateEnv.DATABASE_MIGRATION_URL;
      const dedicated = Object.keys(migrateEnv.TENANT_DATABASES).length;
      // Easy to forget once tenants have their own databases: the API refuses theirs until they are migrated too.
      if (dedicated > 0) process.stderr.write(`note: the shared database only; ${dedicated} dedicated database(s) in TENANT_DATABASES are not touched (add --all)\n`);
      if (options.status) {
        const states = await migrationStatus(ownerUrl);
        if (options.json) return printJson(states.map(({ tag, applied }) => ({ migration: tag, status: applied ? 'applied' : 'pending' })));
        printTable(states.map(({ tag, applied }) => ({ migration: tag, status: applied ? 'applied' : 'pending' })), ['migration', 'status']);
        const pending = states.filter((state) => !state.applied).length;
        return printLines(pending === 0 ? 'up to date' : `${pending} pending: run \`npm run cli -- migrate\``);
      }
      let progress: Progress | undefined;
      const applied = await applyMigrations(ownerUrl, (_migration, pending) => {
        // Only worth a bar when there are several to apply (a fresh database: all of them).
        if (pending.length > 1) (progress ??= startProgress('migrations', pending.length, 'applied')).increment();
      }).finally(() => progress?.stop());
      if (options.json) return printJson({ applied: applied.map((state) => state.tag) });
      printLines(applied.length === 0 ? 'up to date: no pending migration' : `applied ${applied.length}: ${applied.map((state) => state.tag).join(', ')}`);
    });
}

/** The shared database first, then the dedicated ones in TENANT_DATABASES' order. */
function migrationTargets(env: MigrateEnv): MigrationTarget[] {
  return [
    { name: SHARED_DATABASE, migrationUrl: env.DATABASE_MIGRATION_URL },
    ...Object.entries(env.TENANT_DATABASES).map(([name, settings]) => ({ name, migrationUrl: settings.migrationUrl })),
  ];
}

/** An error column only when a row has one. */
function withErrors(rows: Array<{ error?: string }>): Array<'error'> {
  return rows.some((row) => row.error) ? ['error'] : [];
}

/** `migrate --all`: one bar counting databases done (naming those that failed), then one row per database. Exit 1 if any failed. */
async function migrateAll(targets: MigrationTarget[], concurrency: number, onFailure: FailurePolicy, json: boolean | undefined): Promise<void> {
  const progress = startProgress('databases', targets.length, 'done');
  const failed: string[] = [];
  const results = await migrateDatabases(targets, {
    concurrency,
    onFailure,
    onProgress: (event) => {
      if (event.kind !== 'finished') return;
      if (event.result.outcome === 'failed') failed.push(event.result.database);
      progress.increment(1, failed.length > 0 ? `failed: ${failed.join(', ')}` : '');
    },
  }).finally(() => progress.stop());

  const count = (outcome: MigrationOutcome) => results.filter((result) => result.outcome === outcome).length;
  if (json) printJson({ databases: results });
  else {
    printTable(
      results.map((result) => ({ ...result, applied: result.applied.length, time: `${(result.ms / 1000).toFixed(1)}s` })),
      ['database', 'outcome', 'applied', 'time', ...withErrors(results)],
    );
    printLines(`${count('migrated')} migrated, ${count('up-to-date')} up to date, ${count('failed')} failed, ${count('not-started')} not started`);
  }
  if (failed.length > 0) {
    const notStarted = count('not-started') > 0 ? `; ${count('not-started')} not started (--on-failure stop)` : '';
    // Thrown after the report, for the exit code and one line on stderr.
    throw new Error(`${failed.length} of ${targets.length} databases failed to migrate: ${failed.join(', ')}${notStarted}. Fix the cause and run again: what was applied stays, the rest resumes`);
  }
}

/** `migrate --status --all`: each database's version. Exit 1 if one could not be read. */
async function printVersions(targets: MigrationTarget[], concurrency: number, json: boolean | undefined): Promise<void> {
  const versions = await databaseVersions(targets, { concurrency });
  if (json) printJson({ databases: versions });
  else {
    printTable(versions, ['database', 'state', 'applied', 'pending', 'latest', ...withErrors(versions)]);
    const behind = versions.filter((version) => version.state === 'behind').map((version) => version.database);
    printLines(behind.length === 0 ? 'no database behind' : `${behind.length} behind (${behind.join(', ')}): run \`npm run cli -- migrate --all\``);
  }
  const unreachable = versions.filter((version) => version.state === 'unreachable').map((version) => version.database);
  if (unreachable.length > 0) throw new Error(`${unreachable.length} of ${targets.length} databases could not be read: ${unreachable.join(', ')}`);
}

/** `setup`: once per cluster, as a superuser; what docker-compose.yml's init script does for its own PostgreSQL. */
export function setupCommand(env: Env): Command {
  return new Command('setup')
    .description('create (or reset the passwords of) app_owner and app_user and the database, as a superuser (DATABASE_ADMIN_URL, APP_OWNER_PASSWORD, APP_USER_PASSWORD, DATABASE_NAME)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const setup = validateEnv(setupEnvSchema, env);
      await ensureRoles(setup.DATABASE_ADMIN_URL, { owner: setup.APP_OWNER_PASSWORD, app: setup.APP_USER_PASSWORD });
      const existed = await databaseExists(setup.DATABASE_ADMIN_URL, setup.DATABASE_NAME);
      if (!existed) await createDatabase(setup.DATABASE_ADMIN_URL, setup.DATABASE_NAME);
      if (options.json) return printJson({ roles: ['app_owner', 'app_user'], database: setup.DATABASE_NAME, created: !existed });
      printLines(`roles app_owner/app_user and database "${setup.DATABASE_NAME}" are ready${existed ? ' (database already existed)' : ''}`);
    });
}
