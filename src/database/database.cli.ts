import { z } from 'zod';
import { createDatabase, databaseExists, ensureRoles, runMigrations } from './provisioning';

/**
 * Operator commands (compiled to dist/database/database.cli.js):
 *   npm run db:setup    superuser: create app_owner/app_user and the database
 *   npm run db:migrate  owner: apply drizzle/ migrations
 */
const setupEnv = z.object({
  DATABASE_ADMIN_URL: z.string().url(),
  DATABASE_NAME: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('app'),
  APP_OWNER_PASSWORD: z.string().min(12),
  APP_USER_PASSWORD: z.string().min(12),
});
const migrateEnv = z.object({ DATABASE_MIGRATION_URL: z.string().url() });

async function main(command: string | undefined): Promise<void> {
  if (command === 'setup') {
    const env = setupEnv.parse(process.env);
    await ensureRoles(env.DATABASE_ADMIN_URL, { owner: env.APP_OWNER_PASSWORD, app: env.APP_USER_PASSWORD });
    if (!(await databaseExists(env.DATABASE_ADMIN_URL, env.DATABASE_NAME))) await createDatabase(env.DATABASE_ADMIN_URL, env.DATABASE_NAME);
    process.stdout.write(`roles app_owner/app_user and database "${env.DATABASE_NAME}" are ready\n`);
  } else if (command === 'migrate') {
    const env = migrateEnv.parse(process.env);
    await runMigrations(env.DATABASE_MIGRATION_URL);
    process.stdout.write('migrations applied\n');
  } else {
    process.stderr.write('usage: database.cli.js setup|migrate\n');
    process.exit(2);
  }
}

main(process.argv[2]).catch((error) => {
  process.stderr.write(`${error instanceof z.ZodError ? z.prettifyError(error) : error?.message ?? error}\n`);
  process.exit(1);
});
