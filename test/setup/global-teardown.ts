import pg from 'pg';
import { dropDatabase } from '../../src/database/provisioning';
import { state } from './services';

export default async function globalTeardown(): Promise<void> {
  const superuserUrl = process.env.TEST_PG_SUPERUSER_URL;
  const runId = process.env.TEST_RUN_ID;
  if (superuserUrl && runId) {
    const client = new pg.Client({ connectionString: superuserUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [`tt\\_${runId}\\_%`]);
      for (const { datname } of rows) await dropDatabase(superuserUrl, datname);
    } finally {
      await client.end();
    }
  }
  for (const fn of state.cleanup) await fn();
  await state.stopRedis?.();
  await state.stopPgBouncer?.();
  await state.stopPostgres?.();
}
