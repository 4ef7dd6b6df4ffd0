import pg from 'pg';

/**
 * One short-lived connection for a test's own look at a database (usually as the superuser, to see
 * past RLS), closed whatever `fn` does.
 */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
