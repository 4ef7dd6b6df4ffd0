import pg from 'pg';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';
import { startTestApp, TestApp } from '../helpers/test-app';
import { TestDatabase } from '../helpers/test-database';
import { throughProxy, until } from './health-helpers';

/**
 * PostgreSQL "restarting" under traffic: every connection of the app is reset
 * and new ones refused (the TCP proxy between the app and PostgreSQL is cut),
 * then it comes back. The API must recover by itself (the pool drops broken
 * clients and opens new ones), and every write that was answered 2xx must be in
 * the database afterwards.
 */
describe('PostgreSQL connection cut and restored under traffic', () => {
  let t: TestApp;
  let proxy: TcpProxy;
  let tenant: { id: string; slug: string };

  beforeAll(async () => {
    const server = new URL(process.env.TEST_PG_SUPERUSER_URL!);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    t = await startTestApp({ DB_POOL_SIZE: '5' }, { envFor: (db: TestDatabase) => ({ DATABASE_URL: throughProxy(proxy, db.appUrl) }) });
    tenant = await t.createTenant('pg-restart');
  });

  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it('recovers without a restart and loses no acknowledged write', async () => {
    const acknowledged: string[] = [];
    const statuses = new Map<number, number>();
    let stop = false;
    let sent = 0;
    const writer = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        sent++;
        const response = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: `w${worker}-${i}` } }).catch(() => undefined);
        const status = response?.status ?? 0;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 200 && status < 300) acknowledged.push(response!.body.id);
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const writers = Array.from({ length: 6 }, (_, worker) => writer(worker));

    // Traffic flows before the cut (positive control).
    await until(async () => acknowledged.length, (n) => n >= 20, 'writes before the cut');
    await proxy.cut();
    const atCut = acknowledged.length;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const duringOutage = acknowledged.length - atCut;
    await proxy.restore();
    const atRestore = acknowledged.length;
    // Recovery: new writes succeed again through the same app instance (bounded wait, not a speed assertion).
    await until(async () => acknowledged.length, (n) => n >= atRestore + 20, 'writes after PostgreSQL came back');
    stop = true;
    await Promise.all(writers);

    // Some writes failed during the outage (the cut was real), none succeeded while nothing could reach PostgreSQL.
    const failed = [...statuses].filter(([status]) => status >= 500 || status === 0).reduce((sum, [, n]) => sum + n, 0);
    expect(failed).toBeGreaterThan(0);
    expect(duringOutage).toBeLessThanOrEqual(6); // at most the ones whose COMMIT was answered just before the reset
    expect([...statuses.keys()].filter((s) => s !== 201 && s !== 503 && s !== 0)).toEqual([]);

    // Every 2xx write is in the database; nothing beyond what was sent.
    const client = new pg.Client({ connectionString: t.db.superuserUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string }>('select id from documents where tenant_id = $1', [tenant.id]);
      const stored = new Set(rows.map((r) => r.id));
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
      expect(stored.size).toBeGreaterThanOrEqual(acknowledged.length);
      expect(stored.size).toBeLessThanOrEqual(sent);
    } finally {
      await client.end();
    }
    expect((await t.request('GET', '/health/ready')).status).toBe(200);
  });
});
