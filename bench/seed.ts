import pg from 'pg';
import { ProgressBar } from './progress';

/**
 * Generates a dataset server-side: N tenants with M documents each, built by
 * INSERT ... SELECT over generate_series as the superuser (who bypasses the
 * forced RLS), in batches of tenants so a progress bar can follow. Nothing
 * crosses the wire but the statements, so 10,000 tenants and 1,000,000
 * documents load in well under a minute on a quiet 2-core machine.
 *
 * Foreign-key triggers are skipped for the session (session_replication_role =
 * replica): every document's tenant is inserted first, in the same run, so the
 * data is consistent by construction; the constraint stays declared and checks
 * every later write.
 */

export interface SeedOptions {
  tenants: number;
  docsPerTenant: number;
  /** Progress bar label; undefined => quiet. */
  label?: string;
}

export interface SeedResult {
  tenants: number;
  documents: number;
  seconds: number;
  tableBytes: number;
}

/** Rows per INSERT: large enough to amortise the statement, small enough for a lively progress bar. */
const DOCS_PER_BATCH = 50_000;

/** Slugs sort in creation order, which the batches and the sample of active tenants rely on. */
export const benchSlug = (n: number) => `bench-${String(n).padStart(6, '0')}`;

/**
 * INSERT of `docs` documents for each tenant `where` picks: newest first is the list order, so
 * document g of a tenant is g minutes old (plus jitter, so timestamps of different tenants
 * interleave), bodies of a few hundred bytes.
 */
function documentsInsert(where: string, docs: string, returning = ''): string {
  return `insert into documents (tenant_id, title, body, tags, created_at, updated_at)
          select t.id,
                 'Document ' || g || ' of ' || t.slug,
                 repeat('Lorem ipsum dolor sit amet, consectetur adipiscing elit. ', 4 + g % 5),
                 array['tag-' || (g % 10), 'bench'],
                 ts, ts
          from tenants t
          cross join generate_series(1, ${docs}::int) g
          cross join lateral (select now() - g * interval '1 minute' - random() * interval '50 seconds' as ts) x
          where ${where}
          ${returning}`;
}

export async function seedDataset(superuserDbUrl: string, options: SeedOptions): Promise<SeedResult> {
  const started = Date.now();
  const client = new pg.Client({ connectionString: superuserDbUrl });
  await client.connect();
  try {
    await client.query(`set session_replication_role = replica`);
    await client.query(
      `insert into tenants (slug, name, plan)
       select 'bench-' || lpad(g::text, 6, '0'), 'Bench tenant ' || g, 'enterprise'
       from generate_series(1, $1::int) g`,
      [options.tenants],
    );
    const total = options.tenants * options.docsPerTenant;
    const progress = options.label ? new ProgressBar(options.label, total, 'documents') : undefined;
    const tenantsPerBatch = Math.max(1, Math.floor(DOCS_PER_BATCH / options.docsPerTenant));
    let done = 0;
    progress?.update(0);
    for (let first = 1; first <= options.tenants; first += tenantsPerBatch) {
      const last = Math.min(options.tenants, first + tenantsPerBatch - 1);
      const { rowCount } = await client.query(documentsInsert('t.slug between $1 and $2', '$3'), [benchSlug(first), benchSlug(last), options.docsPerTenant]);
      done += rowCount ?? 0;
      progress?.update(done);
    }
    progress?.finish();
    await client.query(`set session_replication_role = origin`);
    await client.query('analyze tenants; analyze documents');
    const { rows } = await client.query(`select pg_total_relation_size('documents')::bigint as bytes`);
    return { tenants: options.tenants, documents: done, seconds: (Date.now() - started) / 1000, tableBytes: Number(rows[0].bytes) };
  } finally {
    await client.end();
  }
}

export interface TrafficSample {
  /** Tenant id -> its document ids. */
  tenants: Array<{ id: string; slug: string; documentIds: string[] }>;
}

/** `count` tenants spread evenly over the dataset, with all their document ids. */
export async function sampleTraffic(superuserDbUrl: string, count: number): Promise<TrafficSample> {
  const client = new pg.Client({ connectionString: superuserDbUrl });
  await client.connect();
  try {
    const { rows: all } = await client.query<{ id: string; slug: string }>(`select id, slug from tenants where slug like 'bench-%' order by slug`);
    const step = all.length / Math.min(count, all.length);
    const picked = Array.from({ length: Math.min(count, all.length) }, (_, i) => all[Math.floor(i * step)]);
    const { rows: docs } = await client.query<{ tenant_id: string; id: string }>(
      `select tenant_id, id from documents where tenant_id = any($1::uuid[])`,
      [picked.map((tenant) => tenant.id)],
    );
    const byTenant = new Map<string, string[]>(picked.map((tenant) => [tenant.id, []]));
    for (const doc of docs) byTenant.get(doc.tenant_id)!.push(doc.id);
    return { tenants: picked.map((tenant) => ({ ...tenant, documentIds: byTenant.get(tenant.id)! })) };
  } finally {
    await client.end();
  }
}

/**
 * The documents of seedDataset (the same rows) for tenants that already exist, by id: tenants
 * created through the API, on whichever database `superuserDbUrl` names (a dedicated database
 * holds its tenants' anchor rows). Returns each tenant's document ids.
 */
export async function seedDocuments(superuserDbUrl: string, tenantIds: string[], docsPerTenant: number): Promise<Map<string, string[]>> {
  const client = new pg.Client({ connectionString: superuserDbUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ tenant_id: string; id: string }>(
      documentsInsert('t.id = any($1::uuid[])', '$2', 'returning tenant_id, id'),
      [tenantIds, docsPerTenant],
    );
    await client.query('analyze documents');
    const byTenant = new Map<string, string[]>(tenantIds.map((id) => [id, []]));
    for (const row of rows) byTenant.get(row.tenant_id)!.push(row.id);
    return byTenant;
  } finally {
    await client.end();
  }
}
