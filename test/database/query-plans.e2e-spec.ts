import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from '../../src/database/schema';
import { TenantDb } from '../../src/database/tenant-db';
import { DocumentsRepository } from '../../src/documents/documents.repository';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';

/**
 * The hot reads (GET /documents/:id and GET /documents?limit=20) must stay index
 * lookups led by tenant_id: that is what keeps their cost flat as tenants are
 * added. The SQL is captured from the real repository methods (drizzle builds
 * it; nothing here restates the queries), then EXPLAINed as the runtime role
 * inside a tenant transaction, so the RLS policy is part of the plan.
 *
 * The table is seeded with enough rows (and ANALYZEd) that a sequential scan is
 * not simply cheaper, as it is on a near-empty table; enable_seqscan stays on.
 * Both the custom plan (values known) and the generic plan (what a named
 * prepared statement settles on after five executions) are checked.
 */

const TENANTS = 40;
const DOCS_PER_TENANT = 250;

interface Captured {
  text: string;
  values: unknown[];
}

/** A drizzle "client" that records each statement and answers with no rows. */
class RecordingClient {
  readonly statements: Captured[] = [];
  async query(config: string | { text: string }, values?: unknown[]) {
    this.statements.push({ text: typeof config === 'string' ? config : config.text, values: values ?? [] });
    return { rows: [], fields: [], rowCount: 0, command: 'SELECT' };
  }
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

describe('query plans of the hot document reads', () => {
  let db: TestDatabase;
  let superuser: pg.Client;
  let app: pg.Client;
  let tenant: Tenant;
  let documentId: string;
  /** Index name -> its first key column, for the documents table. */
  const leadingColumn = new Map<string, string>();

  beforeAll(async () => {
    db = await createTestDatabase();
    superuser = new pg.Client({ connectionString: db.superuserUrl });
    await superuser.connect();
    // Superuser (bypasses RLS): seed server-side, then refresh the statistics the planner reads.
    await superuser.query(
      `insert into tenants (slug, name) select 'plan-tenant-' || g, 'Plan tenant ' || g from generate_series(1, $1::int) g`,
      [TENANTS],
    );
    await superuser.query(
      `insert into documents (tenant_id, title, body, tags, created_at, updated_at)
       select t.id, 'doc ' || g, repeat('x', 200), array['t' || (g % 7)], now() - g * interval '1 minute', now()
       from tenants t cross join generate_series(1, $1::int) g`,
      [DOCS_PER_TENANT],
    );
    await superuser.query('analyze tenants; analyze documents');
    const { rows } = await superuser.query(
      `select t.id, t.slug, t.name, t.status, t.plan, (select d.id from documents d where d.tenant_id = t.id limit 1) as document_id
       from tenants t order by t.slug limit 1`,
    );
    const { document_id, ...row } = rows[0];
    tenant = row;
    documentId = document_id;

    const indexes = await superuser.query(
      `select c.relname as name, a.attname as first_column
       from pg_index i join pg_class c on c.oid = i.indexrelid
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
       where i.indrelid = 'documents'::regclass`,
    );
    for (const index of indexes.rows) leadingColumn.set(index.name, index.first_column);

    app = new pg.Client({ connectionString: db.appUrl });
    await app.connect();
  });

  afterAll(async () => {
    await app?.end();
    await superuser?.end();
    await db?.drop();
  });

  /** Runs a repository method against a recorder and returns the one statement it issued. */
  async function captureSql(run: (repository: DocumentsRepository) => PromiseLike<unknown>): Promise<Captured> {
    const recorder = new RecordingClient();
    const tenantDb = new TenantDb(
      drizzle({ client: recorder as unknown as pg.Pool, schema }),
      () => {
        throw new Error('no transactions here');
      },
      () => {
        throw new Error('no together() here');
      },
    );
    const repository = new DocumentsRepository(tenantDb);
    await TenantContext.run({ tenant }, async () => await run(repository));
    expect(recorder.statements).toHaveLength(1);
    return recorder.statements[0];
  }

  /** EXPLAIN as app_user with the tenant set transaction-locally, as the data layer does. */
  async function explain(statement: Captured, mode: 'custom' | 'generic'): Promise<PlanNode> {
    await app.query('begin');
    try {
      await app.query(`select set_config('app.tenant_id', $1, true)`, [tenant.id]);
      if (mode === 'custom') {
        const { rows } = await app.query(`explain (format json) ${statement.text}`, statement.values);
        return rows[0]['QUERY PLAN'][0].Plan;
      }
      await app.query(`set local plan_cache_mode = force_generic_plan`);
      await app.query(`prepare plan_probe as ${statement.text}`);
      const args = statement.values.map((value) => app.escapeLiteral(String(value))).join(', ');
      const { rows } = await app.query(`explain (format json) execute plan_probe(${args})`);
      await app.query('deallocate plan_probe');
      return rows[0]['QUERY PLAN'][0].Plan;
    } finally {
      await app.query('rollback');
    }
  }

  function expectTenantLedIndexScan(plan: PlanNode, expectedIndex: string): void {
    const onDocuments = nodesOf(plan).filter((node) => node['Relation Name'] === 'documents');
    expect(onDocuments.length).toBeGreaterThan(0);
    expect(onDocuments.map((node) => node['Node Type'])).not.toContain('Seq Scan');
    for (const node of onDocuments) {
      expect(['Index Scan', 'Index Only Scan', 'Bitmap Heap Scan']).toContain(node['Node Type']);
    }
    const indexNodes = nodesOf(plan).filter((node) => node['Index Name'] !== undefined);
    expect(indexNodes.map((node) => node['Index Name'])).toContain(expectedIndex);
    for (const node of indexNodes) {
      expect(leadingColumn.get(node['Index Name']!)).toBe('tenant_id');
      expect(node['Index Cond']).toMatch(/\btenant_id\b/);
    }
  }

  it('seeded enough rows that the planner has a choice (positive control)', async () => {
    const { rows } = await superuser.query(`select reltuples::int as n from pg_class where relname = 'documents'`);
    expect(rows[0].n).toBeGreaterThanOrEqual(TENANTS * DOCS_PER_TENANT * 0.9);
    expect(leadingColumn.get('documents_pkey')).toBe('tenant_id');
    expect(leadingColumn.get('documents_tenant_created_idx')).toBe('tenant_id');
  });

  it('the captured SQL is the tenant-filtered statement drizzle generates', async () => {
    const byId = await captureSql((repository) => repository.findById(documentId));
    expect(byId.text).toMatch(/from "documents" where \("documents"\."tenant_id" = \$1 and "documents"\."id" = \$2\) limit \$3/);
    expect(byId.values).toEqual([tenant.id, documentId, 1]);
    const list = await captureSql((repository) => repository.list({ limit: 21 }));
    expect(list.text).toMatch(/where "documents"\."tenant_id" = \$1 order by "documents"\."created_at" desc, "documents"\."id" desc limit \$2/);
  });

  it('the app role sees the tenant rows through these statements (the plans below are of real reads)', async () => {
    const byId = await captureSql((repository) => repository.findById(documentId));
    await app.query('begin');
    try {
      await app.query(`select set_config('app.tenant_id', $1, true)`, [tenant.id]);
      expect((await app.query(byId.text, byId.values)).rowCount).toBe(1);
      const list = await captureSql((repository) => repository.list({ limit: 21 }));
      expect((await app.query(list.text, list.values)).rowCount).toBe(21);
    } finally {
      await app.query('rollback');
    }
  });

  it.each(['custom', 'generic'] as const)('GET /documents/:id uses the primary key led by tenant_id (%s plan)', async (mode) => {
    const statement = await captureSql((repository) => repository.findById(documentId));
    expectTenantLedIndexScan(await explain(statement, mode), 'documents_pkey');
  });

  it.each(['custom', 'generic'] as const)('GET /documents?limit=20 walks documents_tenant_created_idx without a sort (%s plan)', async (mode) => {
    const statement = await captureSql((repository) => repository.list({ limit: 21 }));
    const plan = await explain(statement, mode);
    expectTenantLedIndexScan(plan, 'documents_tenant_created_idx');
    expect(nodesOf(plan).map((node) => node['Node Type'])).not.toContain('Sort');
  });
});
