import { createBenchDatabase, startServer } from './postgres';
import { seedDataset } from './seed';

/**
 * `npm run bench:seed -- --tenants 10000 --docs-per-tenant 100 [--keep]`
 *
 * Creates a uniquely named, migrated database, generates the dataset with a
 * progress bar on stderr, and reports how long it took. The database is dropped
 * afterwards unless --keep is given (with BENCH_DATABASE_URL; an embedded
 * server is always removed).
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number) => {
    const index = args.findIndex((arg) => arg === name || arg.startsWith(`${name}=`));
    if (index === -1) return fallback;
    const raw = args[index].includes('=') ? args[index].split('=')[1] : args[index + 1];
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
    return value;
  };
  const tenants = option('--tenants', Number(process.env.BENCH_TENANTS ?? 10_000));
  const docsPerTenant = option('--docs-per-tenant', Number(process.env.BENCH_DOCS_PER_TENANT ?? 100));
  const keep = args.includes('--keep');

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
