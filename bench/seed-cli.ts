import { Command } from 'commander';
import { commandLine, parsedOrRefused, positiveInt } from './command-line';
import { createBenchDatabase, startServer } from './postgres';
import { seedDataset } from './seed';

/**
 * `npm run bench:seed -- --tenants 10000 --docs-per-tenant 100 [--keep]`
 *
 * Creates a uniquely named, migrated database, generates the dataset with a
 * progress bar on stderr, and reports how long it took. The database is dropped
 * afterwards unless --keep is given (with BENCH_DATABASE_URL; an embedded
 * server is always removed). `--help` prints this and exits; an unknown flag is
 * refused (exit 2) before any database is touched. Parsed by commander, like
 * `npm run bench` and the ops CLI.
 */
function seedCommand(): Command {
  return commandLine('bench:seed', 'Seed a throwaway benchmark database and time it (BENCH_DATABASE_URL: an existing server, superuser URL; unset: an embedded one).')
    .option('--tenants <n>', 'tenants to create (default: env BENCH_TENANTS, else 10000)', positiveInt)
    .option('--docs-per-tenant <n>', 'documents per tenant (default: env BENCH_DOCS_PER_TENANT, else 100)', positiveInt)
    .option('--keep', 'keep the database afterwards (with BENCH_DATABASE_URL only)');
}

async function main(): Promise<void> {
  const command = seedCommand();
  // --help (exit 0) or a refused command line (exit 2): printed by commander, nothing started.
  if (!parsedOrRefused(command)) return;
  const options = command.opts<{ tenants?: number; docsPerTenant?: number; keep?: boolean }>();
  let tenants: number;
  let docsPerTenant: number;
  try {
    // A flag wins over the environment.
    tenants = options.tenants ?? positiveInt(process.env.BENCH_TENANTS || '10000');
    docsPerTenant = options.docsPerTenant ?? positiveInt(process.env.BENCH_DOCS_PER_TENANT || '100');
  } catch (error) {
    process.stderr.write(`error: BENCH_TENANTS and BENCH_DOCS_PER_TENANT ${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const keep = options.keep === true;

  const server = await startServer(process.env.BENCH_DATABASE_URL || undefined);
  try {
    const db = await createBenchDatabase(server.superuserUrl, `seed_t${tenants}`);
    try {
      const result = await seedDataset(db.superuserUrl, { tenants, docsPerTenant, label: `seed ${tenants} tenants` });
      const rate = Math.round(result.documents / result.seconds);
      process.stdout.write(
        `seeded ${result.tenants.toLocaleString('en-US')} tenants and ${result.documents.toLocaleString('en-US')} documents ` +
          `in ${result.seconds.toFixed(1)} s (${rate.toLocaleString('en-US')} documents/s; documents table ${(result.tableBytes / 2 ** 20).toFixed(0)} MB) ` +
          `on ${server.description}\n`,
      );
      if (keep && process.env.BENCH_DATABASE_URL) {
        process.stdout.write(`kept database ${db.name}\n`);
        return;
      }
      if (keep) process.stderr.write('--keep ignored: the embedded server is removed when this command ends\n');
      await db.drop();
    } catch (error) {
      await db.drop().catch(() => undefined);
      throw error;
    }
  } finally {
    await server.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`bench:seed failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
