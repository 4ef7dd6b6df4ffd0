import { withClient } from './pg-client';

/**
 * The run's PgBouncer (see test/setup/services.ts). Tests of the pgbouncer
 * project (test/setup/through-pgbouncer.ts) reach PostgreSQL through it: the
 * app, any second instance started with t.env, and t.db.appUrl.
 */
export function throughPgBouncer(): boolean {
  return process.env.TEST_THROUGH_PGBOUNCER === '1';
}

function adminUrl(): string {
  const url = process.env.TEST_PGBOUNCER_URL;
  if (!url) throw new Error('Run tests through jest (npm test): global setup provisions PgBouncer');
  return url;
}

/** A database on the suite's PostgreSQL, as `user`, through PgBouncer. */
export function pgbouncerUrl(database: string, user: string, password: string): string {
  const url = new URL(adminUrl());
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  url.pathname = `/${database}`;
  return url.toString();
}

/** `SHOW <what>` on PgBouncer's admin console (SHOW POOLS, CLIENTS, SERVERS, CONFIG, STATS). */
export async function pgbouncerShow<T extends Record<string, unknown>>(what: 'POOLS' | 'CLIENTS' | 'SERVERS' | 'CONFIG' | 'STATS'): Promise<T[]> {
  // The admin console speaks the simple protocol only: a query without parameters.
  return await withClient(adminUrl(), async (client) => (await client.query<T>(`show ${what.toLowerCase()}`)).rows);
}
