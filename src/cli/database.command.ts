import { Command } from 'commander';
import { migrateEnvSchema, setupEnvSchema, validateEnv } from '../config/env.schema';
import { applyMigrations, createDatabase, databaseExists, ensureRoles, migrationStatus } from '../database/provisioning';
import { printJson, printLines, printTable } from './cli-output';
import { Progress, startProgress } from './cli-progress-bar';

type Env = Record<string, string | undefined>;

/** `migrate [--status]`: the owner role's job (DATABASE_MIGRATION_URL), never the API's runtime role. */
export function migrateCommand(env: Env): Command {
  return new Command('migrate')
    .description('apply pending drizzle/ migrations as the owner role (DATABASE_MIGRATION_URL), one transaction each')
    .option('--status', 'list every migration as applied or pending, change nothing')
    .option('--json', 'print JSON')
    .action(async (options: { status?: boolean; json?: boolean }) => {
      const { DATABASE_MIGRATION_URL: ownerUrl } = validateEnv(migrateEnvSchema, env);
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
