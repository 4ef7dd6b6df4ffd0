import pg from 'pg';
import { dropDatabase } from '../../src/database/provisioning';
import { state } from './services';

export default async function globalTeardown(): Promise<void> {
  const superuserUrl = process.env.TEST_PG_SUPERUSER_URL;
  const runId = process.env.TEST_RUN_ID;
  // The run's databases on both servers (the second holds the dedicated databases of test/database/dedicated-databases).
  for (const url of new Set([superuserUrl, process.env.TEST_PG2_SUPERUSER_URL])) {
    if (!url || !runId) continue;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [`tt\\_${runId}\\_%`]);
      for (const { datname } of rows) await dropDatabase(url, datname);
    } finally {
      await client.end();
    }
  }
  for (const fn of state.cleanup) await fn();
  await state.stopRedis?.();
  await state.stopPgBouncer?.();
  for (const stop of state.stopPostgres) await stop();
}
