import { Controller, Get, Module } from '@nestjs/common';
import { count, sql } from 'drizzle-orm';
import pg from 'pg';
import { Can } from '../../src/access/can.decorator';
import { TenantRoute } from '../../src/access/route-access.decorator';
import { documents } from '../../src/database/schema';
import { TenantDb } from '../../src/database/tenant-db';
import { TenantContext } from '../../src/tenancy/tenant-context';
import { pgbouncerShow } from '../helpers/pgbouncer';
import { startTestApp, TestApp } from '../helpers/test-app';

/** What the statement itself runs under, read on the server next to the rows. */
const SEEN = { setting: sql<string | null>`current_setting('app.tenant_id', true)`, pid: sql<number>`pg_backend_pid()`, documents: count() };

interface Seen {
  setting: string | null;
  pid: number;
  documents: number;
}

interface ProbeAnswer {
  context: string;
  batch: Seen;
  transaction: Seen;
  rows: Array<{ id: string; tenantId: string }>;
}

/**
 * Test-only tenant route on the app's own data path: TenantDb's one-round-trip
 * batch and TenantDb.transaction(). An aggregate answers one row even when RLS
 * hides every document, so a statement run under another tenant's setting
 * shows that setting instead of just coming back empty.
 */
@TenantRoute()
@Can('documents:read')
@Controller('pgbouncer-probe')
class ProbeController {
  constructor(private readonly db: TenantDb) {}

  @Get()
  async probe(): Promise<ProbeAnswer> {
    const [batch] = await this.db.select(SEEN).from(documents);
    const rows = await this.db.select({ id: documents.id, tenantId: documents.tenantId }).from(documents);
    const [transaction] = await this.db.transaction((tx) => tx.select(SEEN).from(documents));
    return { context: TenantContext.currentId(), batch, transaction, rows };
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

/**
 * Transaction pooling is where tenant context leaks in other stacks: a server
 * connection serves whichever client PgBouncer hands it next, with whatever
 * the last one left on it (PgBouncer runs no reset query in transaction mode).
 * Many tenants are driven at once through far fewer server connections than
 * the app has clients; no statement may run under another tenant's setting,
 * and none outside a tenant's batch may find one left over.
 */
describe('tenant context through a transaction-mode PgBouncer', () => {
  const TENANTS = 20;
  const DOCS = 3;
  const IN_FLIGHT = 200;
  /** Rounds of one request per tenant, the kind of request rotating by round over 4: a multiple of 4 × TENANTS. */
  const REQUESTS = 800;
  const APP_POOL = 20;
  let t: TestApp;
  let poolSize: number;
  const tenants: Array<{ id: string; slug: string; docs: Set<string> }> = [];

  beforeAll(async () => {
    const config = await pgbouncerShow<{ key: string; value: string }>('CONFIG');
    poolSize = Number(config.find((row) => row.key === 'default_pool_size')?.value);
    t = await startTestApp({ DB_POOL_SIZE: String(APP_POOL) }, { imports: [ProbeModule] });
    await Promise.all(
      Array.from({ length: TENANTS }, async (_, i) => {
        const tenant = await t.createTenant(`leak-${String(i).padStart(2, '0')}`);
        const docs = new Set<string>();
        for (let j = 0; j < DOCS; j++) {
          const doc = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: `${tenant.slug}:${j}` } });
          if (doc.status !== 201) throw new Error(`POST /documents -> ${doc.status} ${JSON.stringify(doc.body)}`);
          docs.add(doc.body.id);
        }
        tenants.push({ ...tenant, docs });
      }),
    );
  });
  afterAll(() => t?.close());

  it('runs every statement under its own tenant, on server connections shared by many clients and tenants', async () => {
    expect(poolSize).toBeGreaterThan(0);
    expect(poolSize).toBeLessThan(APP_POOL); // fewer server connections than the app alone has clients

    // The tenants' data really differ: each has its own documents, none shared.
    const allDocs = tenants.flatMap((tenant) => [...tenant.docs]);
    expect(allDocs).toHaveLength(TENANTS * DOCS);
    expect(new Set(allDocs).size).toBe(TENANTS * DOCS);

    const problems: string[] = [];
    const statuses = new Map<string, number>();
    const tenantsByPid = new Map<number, Set<string>>();
    const saw = (tenantId: string, seen: Seen, where: string) => {
      if (seen.setting !== tenantId) problems.push(`${where} for ${tenantId} ran under ${seen.setting}`);
      if (seen.documents !== DOCS) problems.push(`${where} for ${tenantId} counted ${seen.documents} documents`);
      if (!tenantsByPid.has(seen.pid)) tenantsByPid.set(seen.pid, new Set());
      tenantsByPid.get(seen.pid)!.add(tenantId);
    };

    let next = 0;
    const one = async (i: number) => {
      const tenant = tenants[i % TENANTS];
      const kind = Math.floor(i / TENANTS) % 4;
      if (kind < 2) {
        const r = await t.request<ProbeAnswer>('GET', '/pgbouncer-probe', { tenant: tenant.slug });
        statuses.set(`probe ${r.status}`, (statuses.get(`probe ${r.status}`) ?? 0) + 1);
        if (r.status !== 200) return;
        if (r.body.context !== tenant.id) problems.push(`probe for ${tenant.id} ran in the context of ${r.body.context}`);
        saw(tenant.id, r.body.batch, 'batch');
        saw(tenant.id, r.body.transaction, 'transaction');
        if (r.body.rows.length !== DOCS) problems.push(`probe for ${tenant.id} got ${r.body.rows.length} rows`);
        for (const row of r.body.rows) {
          if (row.tenantId !== tenant.id || !tenant.docs.has(row.id)) problems.push(`probe for ${tenant.id} got ${row.tenantId}'s row ${row.id}`);
        }
      } else if (kind === 2) {
        const r = await t.request('GET', '/documents?limit=100', { tenant: tenant.slug });
        statuses.set(`list ${r.status}`, (statuses.get(`list ${r.status}`) ?? 0) + 1);
        const ids = (r.body.items ?? []).map((item: { id: string }) => item.id);
        if (ids.length !== DOCS || ids.some((id: string) => !tenant.docs.has(id))) problems.push(`list for ${tenant.id} got ${ids.join(',')}`);
      } else {
        const other = tenants[(i + 1) % TENANTS];
        const r = await t.request('GET', `/documents/${[...other.docs][0]}`, { tenant: tenant.slug });
        statuses.set(`foreign ${r.status}`, (statuses.get(`foreign ${r.status}`) ?? 0) + 1);
      }
    };

    // Untenanted statements on the same server connections, interleaved with the tenants' batches:
    // a setting left behind on a server connection would show here.
    const raw = new pg.Pool({ connectionString: t.db.appUrl, max: 10 });
    const untenanted: Array<{ setting: string | null; pid: number }> = [];
    let loading = true;
    const rawLoop = async () => {
      while (loading) {
        const { rows } = await raw.query<{ setting: string | null; pid: number }>("select current_setting('app.tenant_id', true) as setting, pg_backend_pid() as pid");
        untenanted.push(rows[0]);
      }
    };
    // More clients than server connections at the same moment: PgBouncer keeps some waiting.
    let maxWaiting = 0;
    const sample = async () => {
      while (loading) {
        for (const pool of await pgbouncerShow<{ database: string; user: string; cl_waiting: number }>('POOLS')) {
          if (pool.database === t.db.name) maxWaiting = Math.max(maxWaiting, Number(pool.cl_waiting));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    try {
      const background = Promise.all([...Array.from({ length: 10 }, rawLoop), sample()]);
      background.catch(() => undefined); // awaited below; a failure must not surface as unhandled before that
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < REQUESTS) await one(next++);
        }),
      );
      loading = false;
      await background;

      const servers = (await pgbouncerShow<{ database: string; user: string; remote_pid: number }>('SERVERS')).filter((s) => s.database === t.db.name);
      const clients = (await pgbouncerShow<{ database: string; user: string }>('CLIENTS')).filter((c) => c.database === t.db.name);
      const pools = (await pgbouncerShow<{ database: string; user: string; pool_mode: string }>('POOLS')).filter((p) => p.database === t.db.name);

      expect(problems.slice(0, 20)).toEqual([]);
      expect(Object.fromEntries(statuses)).toEqual({ 'probe 200': REQUESTS / 2, 'list 200': REQUESTS / 4, 'foreign 404': REQUESTS / 4 });
      expect(untenanted.length).toBeGreaterThan(100);
      expect(untenanted.filter((row) => row.setting !== null && row.setting !== '').slice(0, 5)).toEqual([]);

      // Positive control: all of it went through PgBouncer, in transaction mode, and server
      // connections were shared: every statement ran on one of at most poolSize PgBouncer server
      // connections while the app (APP_POOL) and the raw pool (10) held more clients than that,
      // some of them waiting, and each server connection served many tenants in turn.
      expect(pools).toEqual([expect.objectContaining({ user: 'app_user', pool_mode: 'transaction' })]);
      expect(clients.length).toBeGreaterThan(poolSize);
      expect(servers.length).toBeLessThanOrEqual(poolSize);
      expect(maxWaiting).toBeGreaterThan(0);
      const serverPids = new Set(servers.map((s) => Number(s.remote_pid)));
      const pids = new Set([...tenantsByPid.keys(), ...untenanted.map((row) => row.pid)]);
      expect([...pids].filter((pid) => !serverPids.has(pid))).toEqual([]);
      for (const served of tenantsByPid.values()) expect(served.size).toBeGreaterThan(1);
    } finally {
      loading = false;
      await raw.end();
    }
  });
});
