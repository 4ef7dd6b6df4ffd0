import { and, count, eq, sql } from 'drizzle-orm';
import { pgTable, QueryBuilder, union, uuid } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { createPool } from '../../src/database/pg/pool';
import { queryForTenant } from '../../src/database/pg/tenant-batch-query';
import { comments, documents, tenants } from '../../src/database/schema';
import {
  createTenantDb,
  Placeholders,
  PreparedQueryMisuseError,
  TenantDb,
  TenantMismatchError,
  TogetherMisuseError,
  TransactionEndedError,
  UnscopedTableError,
} from '../../src/database/tenant-db';
import { MissingTenantContextError, Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';

/**
 * The two isolation layers, each proven alone on a real PostgreSQL:
 * the scoped client with RLS switched off, and RLS with the scoped client bypassed.
 */
describe('tenant data layer', () => {
  let db: TestDatabase;
  let superuser: pg.Client;
  let pool: pg.Pool;
  let tenantDb: TenantDb;
  let a: Tenant;
  let b: Tenant;
  const docsOf: Record<string, string[]> = {};

  // Drizzle builders are lazy thenables: await inside the scope, or they run outside it (and fail closed).
  const as = <T>(tenant: Tenant, fn: () => PromiseLike<T>): Promise<T> => TenantContext.run({ tenant }, async () => await fn());

  beforeAll(async () => {
    db = await createTestDatabase();
    superuser = new pg.Client({ connectionString: db.superuserUrl });
    await superuser.connect();
    pool = createPool({ url: db.appUrl, max: 4, statementTimeoutMs: 5000, applicationName: 'test' });
    tenantDb = createTenantDb(pool);
    const { rows } = await superuser.query(
      `insert into tenants (slug, name) values ('tenant-a', 'A'), ('tenant-b', 'B') returning id, slug, name, status, plan`,
    );
    [a, b] = rows;
    for (const tenant of [a, b]) {
      docsOf[tenant.id] = [];
      for (let i = 0; i < 3; i++) {
        const [doc] = await as(tenant, () => tenantDb.insert(documents).values({ title: `${tenant.slug} doc ${i}`, body: '', tags: [] }).returning());
        docsOf[tenant.id].push(doc.id);
        await as(tenant, () => tenantDb.insert(comments).values({ documentId: doc.id, body: `comment on ${doc.title}` }));
      }
    }
  });

  afterAll(async () => {
    await pool?.end();
    await superuser?.end();
    await db?.drop();
  });

  describe('scoped client', () => {
    it('fills tenant_id on insert and reads back only the current tenant', async () => {
      const { rows } = await superuser.query('select tenant_id, count(*)::int as n from documents group by tenant_id order by tenant_id');
      expect(rows).toHaveLength(2); // positive control: both tenants' rows exist
      const seenByA = await as(a, () => tenantDb.select().from(documents));
      expect(seenByA.map((d) => d.id).sort()).toEqual([...docsOf[a.id]].sort());
      expect(new Set(seenByA.map((d) => d.tenantId))).toEqual(new Set([a.id]));
    });

    it("ANDs the caller's where with the tenant filter instead of letting it replace it", async () => {
      const bDoc = docsOf[b.id][0];
      // Positive control: B finds its own document by id.
      expect(await as(b, () => tenantDb.select().from(documents).where(eq(documents.id, bDoc)))).toHaveLength(1);
      // A's where names B's row explicitly, and even ORs in "everything": still nothing of B.
      const rows = await as(a, () => tenantDb.select().from(documents).where(sql`${documents.id} = ${bDoc} or true`));
      expect(rows.every((row) => row.tenantId === a.id)).toBe(true);
      expect(rows.map((r) => r.id)).not.toContain(bDoc);
    });

    it('rejects rows and updates that name another tenant, and never rewrites tenant_id', async () => {
      await expect(as(a, () => tenantDb.insert(documents).values({ tenantId: b.id, title: 'x' }))).rejects.toBeInstanceOf(TenantMismatchError);
      await expect(as(a, () => tenantDb.update(documents).set({ tenantId: b.id, title: 'x' }))).rejects.toBeInstanceOf(TenantMismatchError);
      // Positive control: naming the own tenant explicitly is allowed.
      const [own] = await as(a, () => tenantDb.insert(documents).values({ tenantId: a.id, title: 'explicit own' }).returning());
      expect(own.tenantId).toBe(a.id);
      await as(a, () => tenantDb.delete(documents).where(eq(documents.id, own.id)));
    });

    it('refuses platform tables and widening joins', async () => {
      // Refused by the types as well (test/types/tenant-db.types-test.ts); here the run-time check behind them.
      // @ts-expect-error a platform table is not a tenant table
      await expect(as(a, async () => tenantDb.select().from(tenants))).rejects.toBeInstanceOf(UnscopedTableError);
      // @ts-expect-error rightJoin is not on the scoped builder
      await expect(as(a, async () => tenantDb.select().from(documents).rightJoin(comments, sql`true`))).rejects.toThrow(/not supported/);
      // Positive control: the joins that stay inside the tenant are allowed.
      await expect(as(a, () => tenantDb.select().from(documents).leftJoin(comments, eq(comments.documentId, documents.id)))).resolves.toHaveLength(3);
    });

    it('refuses a join to a table with tenant_id that was not declared with tenantTable()', async () => {
      // The same physical table, declared the old way: it would join unfiltered, with only RLS left.
      const undeclared = pgTable('comments', { tenantId: uuid('tenant_id').notNull(), id: uuid('id').notNull(), documentId: uuid('document_id').notNull() });
      await expect(as(a, async () => tenantDb.select().from(documents).leftJoin(undeclared, eq(undeclared.documentId, documents.id)))).rejects.toBeInstanceOf(
        UnscopedTableError,
      );
      // Positive control: the declared table joins, filtered.
      await expect(as(a, () => tenantDb.select().from(documents).innerJoin(comments, eq(comments.documentId, documents.id)))).resolves.toBeInstanceOf(Array);
    });

    it('refuses set operators, which could append a query built outside the handle', async () => {
      // A query built outside TenantDb: no tenant filter at all.
      const outside = new QueryBuilder().select({ id: documents.id, title: documents.title }).from(documents);
      expect(outside.toSQL().sql).not.toMatch(/tenant_id/);
      const scopedDocs = () => tenantDb.select({ id: documents.id, title: documents.title }).from(documents);
      await as(a, async () => {
        for (const operator of ['union', 'unionAll', 'intersect', 'intersectAll', 'except', 'exceptAll']) {
          // Not on the type (test/types/tenant-db.types-test.ts): reached through an index, as a cast would.
          const method = (scopedDocs() as unknown as Record<string, (other: unknown) => unknown>)[operator];
          expect(() => method(outside)).toThrow(/not supported/);
        }
        // drizzle's standalone union() goes through the builder's internal addSetOperators: refused too.
        expect(() => union(scopedDocs(), outside)).toThrow(/not supported/);
      });
      // Positive control: the same scoped query without a set operator runs, and shows A its documents only.
      const rows = await as(a, () => scopedDocs());
      expect(rows.map((r) => r.id).sort()).toEqual([...docsOf[a.id]].sort());
    });

    it('isolates alone when RLS is disabled on the tables', async () => {
      await superuser.query('alter table documents disable row level security; alter table comments disable row level security');
      try {
        // Positive control: with RLS off, a raw query as the app role sees both tenants.
        const raw = new pg.Client({ connectionString: db.appUrl });
        await raw.connect();
        const { rows } = await raw.query('select count(distinct tenant_id)::int as tenants from documents');
        await raw.end();
        expect(rows[0].tenants).toBe(2);

        const bDoc = docsOf[b.id][0];
        const seen = await as(a, () => tenantDb.select().from(documents));
        expect(seen.map((d) => d.id).sort()).toEqual([...docsOf[a.id]].sort());
        expect(await as(a, () => tenantDb.select().from(documents).where(eq(documents.id, bDoc)))).toEqual([]);

        // A join: A's documents left-joined to comments, where a B comment is made to "match" everything.
        const joined = await as(a, () =>
          tenantDb
            .select({ doc: documents.id, commentTenant: comments.tenantId })
            .from(documents)
            .leftJoin(comments, sql`true`),
        );
        expect(joined.length).toBe(docsOf[a.id].length * docsOf[a.id].length);
        expect(joined.every((r) => r.commentTenant === a.id)).toBe(true);

        // Aggregates count only the tenant's rows.
        const [{ n }] = await as(a, () => tenantDb.select({ n: count() }).from(comments));
        expect(n).toBe(3);

        // Cross-tenant update and delete change nothing.
        const updated = await as(a, () => tenantDb.update(documents).set({ title: 'hijacked' }).where(eq(documents.id, bDoc)).returning());
        const deleted = await as(a, () => tenantDb.delete(documents).where(eq(documents.id, bDoc)).returning());
        expect([updated, deleted]).toEqual([[], []]);
        const { rows: check } = await superuser.query('select title from documents where id = $1', [bDoc]);
        expect(check[0].title).not.toBe('hijacked');
      } finally {
        await superuser.query('alter table documents enable row level security; alter table comments enable row level security');
      }
    });
  });

  /**
   * TenantDb.prepared(): built once, outside any tenant context, the tenant a
   * placeholder filled at each execute(). The same guarantees as the per-call builders.
   */
  describe('prepared queries', () => {
    const byIdOn = (handle: TenantDb) =>
      handle.prepared((q, p: Placeholders<{ id: string }>) => q.select().from(documents).where(eq(documents.id, p.id)).limit(1));

    it('shows each tenant only its rows, from one statement on one connection', async () => {
      // One connection: the statement is parsed once there and then serves both tenants in turn.
      const single = createPool({ url: db.appUrl, max: 1, statementTimeoutMs: 5000, applicationName: 'test-prepared' });
      try {
        const scoped = createTenantDb(single);
        // Defined here, outside any tenant context, as a repository constructor does.
        const all = scoped.prepared((q) => q.select({ id: documents.id, tenantId: documents.tenantId }).from(documents));
        const byId = byIdOn(scoped);
        const bDoc = docsOf[b.id][0];
        // Positive control: B's row exists, and the query finds it in B's context.
        expect(await as(b, () => byId.execute({ id: bDoc }))).toEqual([expect.objectContaining({ id: bDoc, tenantId: b.id })]);
        expect(await as(a, () => byId.execute({ id: bDoc }))).toEqual([]);
        for (const tenant of [a, b, a]) {
          const rows = await as(tenant, () => all.execute({}));
          expect(rows.map((r) => r.id).sort()).toEqual([...docsOf[tenant.id]].sort());
          expect(new Set(rows.map((r) => r.tenantId))).toEqual(new Set([tenant.id]));
        }
      } finally {
        await single.end();
      }
    });

    it('isolates alone when RLS is disabled, in selects, joins, updates and deletes', async () => {
      const bDoc = docsOf[b.id][0];
      const joined = tenantDb.prepared((q) =>
        q.select({ doc: documents.id, commentTenant: comments.tenantId }).from(documents).leftJoin(comments, sql`true`),
      );
      const rename = tenantDb.prepared((q, p: Placeholders<{ id: string; title: string }>) =>
        q.update(documents).set({ title: p.title }).where(eq(documents.id, p.id)).returning({ id: documents.id }),
      );
      const remove = tenantDb.prepared((q, p: Placeholders<{ id: string }>) => q.delete(documents).where(eq(documents.id, p.id)).returning({ id: documents.id }));
      await superuser.query('alter table documents disable row level security; alter table comments disable row level security');
      try {
        expect(await as(a, () => byIdOn(tenantDb).execute({ id: bDoc }))).toEqual([]);
        const rows = await as(a, () => joined.execute({}));
        expect(rows.length).toBe(docsOf[a.id].length * docsOf[a.id].length);
        expect(rows.every((r) => r.commentTenant === a.id)).toBe(true);
        expect(await as(a, () => rename.execute({ id: bDoc, title: 'hijacked' }))).toEqual([]);
        expect(await as(a, () => remove.execute({ id: bDoc }))).toEqual([]);
        const { rows: check } = await superuser.query('select title from documents where id = $1', [bDoc]);
        expect(check).toHaveLength(1);
        expect(check[0].title).not.toBe('hijacked');
        // Positive control: the same update and delete reach the own tenant's row.
        const [own] = await as(a, () => tenantDb.insert(documents).values({ title: 'prepared own' }).returning());
        expect(await as(a, () => rename.execute({ id: own.id, title: 'renamed' }))).toEqual([{ id: own.id }]);
        expect(await as(a, () => remove.execute({ id: own.id }))).toEqual([{ id: own.id }]);
      } finally {
        await superuser.query('alter table documents enable row level security; alter table comments enable row level security');
      }
    });

    it('inserts with tenant_id filled, and returns rows exactly as the per-call builders do (dates, arrays)', async () => {
      const insert = tenantDb.prepared((q, p: Placeholders<{ title: string; tags: string[]; createdBy: string | null }>) =>
        q.insert(documents).values({ title: p.title, tags: p.tags, createdBy: p.createdBy }).returning(),
      );
      const [row] = await as(a, () => insert.execute({ title: 'prepared insert', tags: ['x', 'y "quoted", z'], createdBy: null }));
      expect(row).toMatchObject({ tenantId: a.id, title: 'prepared insert', body: '', tags: ['x', 'y "quoted", z'], createdBy: null });
      expect(row.createdAt).toBeInstanceOf(Date);
      const prepared = await as(a, () => byIdOn(tenantDb).execute({ id: row.id }));
      const perCall = await as(a, () => tenantDb.select().from(documents).where(eq(documents.id, row.id)).limit(1));
      expect(prepared).toEqual(perCall);
      expect(prepared).toEqual([row]);
      await as(a, () => tenantDb.delete(documents).where(eq(documents.id, row.id)));
    });

    it('throws MissingTenantContextError without a context, before any SQL is sent', async () => {
      const byId = byIdOn(tenantDb);
      const connect = jest.spyOn(pool, 'connect');
      try {
        await expect(TenantContext.exit(() => byId.execute({ id: docsOf[a.id][0] }))).rejects.toBeInstanceOf(MissingTenantContextError);
        expect(connect).not.toHaveBeenCalled();
        // Positive control: in a context the same call borrows a connection and finds the row.
        await expect(as(a, () => byId.execute({ id: docsOf[a.id][0] }))).resolves.toHaveLength(1);
        expect(connect).toHaveBeenCalled();
      } finally {
        connect.mockRestore();
      }
    });

    it("refuses a caller's parameter named like the tenant's placeholder, before any SQL is sent", async () => {
      const byId = byIdOn(tenantDb);
      const connect = jest.spyOn(pool, 'connect');
      try {
        // Not allowed by the types (test/types/tenant-db.types-test.ts): forced through a cast.
        const forged = { id: docsOf[b.id][0], 'tenancy.tenantId': b.id } as unknown as { id: string };
        await expect(as(a, () => byId.execute(forged))).rejects.toBeInstanceOf(PreparedQueryMisuseError);
        expect(connect).not.toHaveBeenCalled();
      } finally {
        connect.mockRestore();
      }
    });

    it('refuses at definition what the per-call builders refuse', () => {
      // Not on the types (test/types/tenant-db.types-test.ts): reached through casts, as in the per-call tests.
      // @ts-expect-error a platform table is not a tenant table
      expect(() => tenantDb.prepared((q) => q.select().from(tenants))).toThrow(UnscopedTableError);
      // @ts-expect-error rightJoin is not on the scoped builder
      expect(() => tenantDb.prepared((q) => q.select().from(documents).rightJoin(comments, sql`true`))).toThrow(/not supported/);
      expect(() => tenantDb.prepared((q) => union(q.select().from(documents), q.select().from(documents)))).toThrow(/not supported/);
      // @ts-expect-error $dynamic is not on the scoped builder
      expect(() => tenantDb.prepared((q) => q.select().from(documents).$dynamic())).toThrow(/not supported/);
      // A row naming a tenant: the tenant is not known before execute(), so any is refused.
      expect(() => tenantDb.prepared((q) => q.insert(documents).values({ title: 'x', tenantId: a.id }))).toThrow(TenantMismatchError);
      expect(() => tenantDb.prepared((q) => q.update(documents).set({ tenantId: a.id }))).toThrow(TenantMismatchError);
      // Positive control: the allowed shapes build.
      expect(() => tenantDb.prepared((q) => q.select().from(documents).innerJoin(comments, eq(comments.documentId, documents.id)))).not.toThrow();
    });

    it("refuses drizzle's own prepare() on the per-call builders: it would keep the tenant of the moment", async () => {
      await as(a, async () => {
        const builders = [
          tenantDb.select().from(documents),
          tenantDb.insert(documents).values({ title: 'x' }),
          tenantDb.update(documents).set({ title: 'x' }),
          tenantDb.delete(documents),
        ];
        for (const builder of builders) {
          // Not on the types: reached through a cast.
          expect(() => (builder as unknown as { prepare(name: string): unknown }).prepare('x')).toThrow(/not supported/);
        }
      });
    });

    it('builds outside any tenant context, and only from the builders it is given', async () => {
      // Defined inside A's context, a query built from TenantDb's own builders would keep A's id: the build sees no context.
      await expect(as(a, async () => tenantDb.prepared(() => tenantDb.select().from(documents)))).rejects.toBeInstanceOf(MissingTenantContextError);
      // A builder made in A's context beforehand is refused as well.
      const madeInA = TenantContext.run({ tenant: a }, () => tenantDb.select().from(documents));
      expect(() => tenantDb.prepared(() => madeInA)).toThrow(PreparedQueryMisuseError);
    });

    it("runs on a transaction's connection when given its handle, and refuses that handle after the transaction", async () => {
      const byId = byIdOn(tenantDb);
      let ended: TenantDb | undefined;
      let id = '';
      await expect(
        as(a, () =>
          tenantDb.transaction(async (tx) => {
            ended = tx;
            [{ id }] = await tx.insert(documents).values({ title: 'uncommitted' }).returning();
            // The transaction sees its own uncommitted row; the pool's other connections do not.
            expect(await byId.execute({ id }, tx)).toHaveLength(1);
            expect(await byId.execute({ id })).toEqual([]);
            throw new Error('roll back');
          }),
        ),
      ).rejects.toThrow('roll back');
      expect(await as(a, () => byId.execute({ id }))).toEqual([]);
      // drizzle wraps what the client throws; the cause is the ended transaction.
      await expect(as(a, () => byId.execute({ id }, ended))).rejects.toMatchObject({ cause: expect.any(TransactionEndedError) });
    });
  });

  describe('together(): leading statements and one statement in one round trip', () => {
    // Tenants of their own: the tests below count A's and B's rows.
    let c: Tenant;
    let d: Tenant;
    beforeAll(async () => {
      const { rows } = await superuser.query(
        `insert into tenants (slug, name) values ('tenant-c', 'C'), ('tenant-d', 'D') returning id, slug, name, status, plan`,
      );
      [c, d] = rows;
    });

    /** A TenantDb on a pool of its own that counts what each connection sends: one client.query() is one round trip. */
    async function counting<T>(run: (scoped: TenantDb, roundTrips: () => number) => Promise<T>): Promise<T> {
      const counted = createPool({ url: db.appUrl, max: 1, statementTimeoutMs: 5000, applicationName: 'test-together' });
      let sent = 0;
      counted.on('connect', (client) => {
        const query = client.query.bind(client) as (...args: unknown[]) => unknown;
        (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
          sent++;
          return query(...args);
        };
      });
      try {
        return await run(createTenantDb(counted), () => sent);
      } finally {
        await counted.end();
      }
    }
    const documentTitled = (scoped: TenantDb, title: string) => scoped.select({ id: documents.id }).from(documents).where(eq(documents.title, title));

    it('runs both in one round trip and commits both; a transaction of the same two costs four', async () => {
      await counting(async (scoped, roundTrips) => {
        const [doc] = await as(c, () =>
          scoped.together([scoped.insert(documents).values({ title: 'together-leading' })], (handle) =>
            handle.insert(documents).values({ title: 'together-main', tags: ['x'] }).returning(),
          ),
        );
        expect(roundTrips()).toBe(1);
        expect(doc).toMatchObject({ title: 'together-main', tags: ['x'], tenantId: c.id });
        expect(doc.createdAt).toBeInstanceOf(Date);
        expect(await as(c, () => documentTitled(scoped, 'together-leading'))).toHaveLength(1);
        // Positive control of the counting: the same two statements as a transaction.
        const before = roundTrips();
        await as(c, () =>
          scoped.transaction(async (tx) => {
            await tx.insert(documents).values({ title: 'tx-leading' });
            await tx.insert(documents).values({ title: 'tx-main' });
          }),
        );
        expect(roundTrips() - before).toBe(4);
      });
    });

    it('rolls back the leading statements when the statement fails, and skips the statement when a leading one fails', async () => {
      await counting(async (scoped) => {
        const missingDocument = '00000000-0000-4000-8000-000000000000';
        await expect(
          as(c, () =>
            scoped.together([scoped.insert(documents).values({ title: 'rolled-back-leading' })], (handle) =>
              handle.insert(comments).values({ documentId: missingDocument, body: 'no such document' }),
            ),
          ),
        ).rejects.toThrow();
        expect(await as(c, () => documentTitled(scoped, 'rolled-back-leading'))).toEqual([]);
        const [existing] = await as(c, () => scoped.select({ id: documents.id }).from(documents).limit(1));
        await expect(
          as(c, () =>
            scoped.together([scoped.insert(documents).values({ id: existing.id, title: 'duplicate id' })], (handle) =>
              handle.insert(documents).values({ title: 'never-inserted' }),
            ),
          ),
        ).rejects.toThrow();
        expect(await as(c, () => documentTitled(scoped, 'never-inserted'))).toEqual([]);
        // Positive control: the connection is clean and the same shape succeeds.
        await as(c, () => scoped.together([scoped.insert(documents).values({ title: 'after-failures' })], (handle) => handle.select().from(documents).limit(1)));
        expect(await as(c, () => documentTitled(scoped, 'after-failures'))).toHaveLength(1);
      });
    });

    it("refuses a second statement on its handle, and statements not built by TenantDb for the current tenant", async () => {
      await expect(
        as(c, () =>
          tenantDb.together([tenantDb.insert(documents).values({ title: 'lead-once' })], async (handle) => {
            await handle.select().from(documents).limit(1);
            await handle.select().from(documents).limit(1);
          }),
        ),
      ).rejects.toMatchObject({ cause: expect.any(TogetherMisuseError) });
      const madeForB = TenantContext.run({ tenant: d }, () => tenantDb.insert(documents).values({ title: 'for b' }));
      await expect(as(c, () => tenantDb.together([madeForB], (handle) => handle.select().from(documents)))).rejects.toBeInstanceOf(TogetherMisuseError);
      const handMade = { toSQL: () => ({ sql: 'delete from documents', params: [] }) };
      await expect(as(c, () => tenantDb.together([handMade], (handle) => handle.select().from(documents)))).rejects.toBeInstanceOf(TogetherMisuseError);
      expect(await as(d, () => documentTitled(tenantDb, 'for b'))).toEqual([]);
      // Positive control: B's own statement, in B's context, is accepted.
      await as(d, () => tenantDb.together([madeForB], (handle) => handle.select().from(documents).limit(1)));
      expect(await as(d, () => documentTitled(tenantDb, 'for b'))).toHaveLength(1);
    });

    it('runs the statements in order inside a transaction', async () => {
      await expect(
        as(c, () =>
          tenantDb.transaction(async (tx) => {
            await tx.together([tx.insert(documents).values({ title: 'in-tx-leading' })], (handle) => handle.insert(documents).values({ title: 'in-tx-main' }));
            expect(await documentTitled(tx, 'in-tx-leading')).toHaveLength(1);
            throw new Error('roll back');
          }),
        ),
      ).rejects.toThrow('roll back');
      expect(await as(c, () => documentTitled(tenantDb, 'in-tx-leading'))).toEqual([]);
    });
  });

  describe('row-level security alone (scoped client bypassed: raw SQL as the app role)', () => {
    async function rawAsTenant<T extends pg.QueryResultRow>(tenantId: string | null, text: string, values: unknown[] = []): Promise<T[]> {
      const client = new pg.Client({ connectionString: db.appUrl });
      await client.connect();
      try {
        await client.query('begin');
        if (tenantId) await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
        const { rows } = await client.query<T>(text, values);
        await client.query('commit');
        return rows;
      } finally {
        await client.end();
      }
    }

    it('shows a tenant only its rows, in joins and aggregates too', async () => {
      // Positive control: the superuser (bypasses RLS) sees both tenants.
      const { rows: all } = await superuser.query('select count(*)::int as n from documents where tenant_id = any($1)', [[a.id, b.id]]);
      expect(all[0].n).toBe(6);

      const rows = await rawAsTenant<{ tenant_id: string; n: number }>(a.id, 'select tenant_id, count(*)::int as n from documents group by tenant_id');
      expect(rows).toEqual([{ tenant_id: a.id, n: 3 }]);

      const joined = await rawAsTenant<{ ct: string; dt: string }>(
        a.id,
        'select c.tenant_id as ct, d.tenant_id as dt from documents d full join comments c on true',
      );
      expect(joined.length).toBe(9);
      expect(joined.every((r) => r.ct === a.id && r.dt === a.id)).toBe(true);

      const [agg] = await rawAsTenant<{ docs: number; comments: number }>(
        b.id,
        'select (select count(*) from documents)::int as docs, (select count(*) from comments)::int as comments',
      );
      expect(agg).toEqual({ docs: 3, comments: 3 });
    });

    it('sees nothing without a tenant, and rejects writes into another tenant', async () => {
      expect(await rawAsTenant(null, 'select * from documents')).toEqual([]);
      await expect(rawAsTenant(a.id, "insert into documents (tenant_id, title) values ($1, 'x')", [b.id])).rejects.toThrow(/row-level security/);
      await expect(
        rawAsTenant(a.id, 'update documents set tenant_id = $1 where tenant_id = $2', [b.id, a.id]),
      ).rejects.toThrow(/row-level security/);
      // Positive control: the same insert into the own tenant succeeds.
      const [row] = await rawAsTenant<{ id: string }>(a.id, "insert into documents (tenant_id, title) values ($1, 'ok') returning id", [a.id]);
      expect(row.id).toBeDefined();
      await rawAsTenant(a.id, 'delete from documents where id = $1', [row.id]);
    });

    it('keeps the owner role out too (FORCE)', async () => {
      const owner = new pg.Client({ connectionString: db.ownerUrl });
      await owner.connect();
      try {
        const { rows } = await owner.query('select count(*)::int as n from documents');
        expect(rows[0].n).toBe(0);
      } finally {
        await owner.end();
      }
    });
  });

  describe('fails closed', () => {
    it('throws before any SQL when there is no tenant context', async () => {
      await expect(TenantContext.exit(async () => await tenantDb.select().from(documents))).rejects.toBeInstanceOf(MissingTenantContextError);
      await expect(TenantContext.exit(async () => await tenantDb.insert(documents).values({ title: "x" }))).rejects.toBeInstanceOf(MissingTenantContextError);
      expect(() => TenantContext.current()).toThrow(MissingTenantContextError);
    });

    it("clears pg's read-timeout timer when a statement settles (no timer, and no rows, kept alive per query)", async () => {
      const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
      await as(a, () => tenantDb.select().from(documents)); // warm: connections open, statements prepared
      const before = timers();
      for (let i = 0; i < 50; i++) await as(a, () => tenantDb.select().from(documents).where(eq(documents.title, `probe ${i}`)));
      await expect(as(a, () => tenantDb.select({ n: sql<number>`1 / 0` }).from(documents))).rejects.toThrow(); // a failed one too
      // The pool's createPool sets query_timeout (positive control: a timer per query exists while it runs).
      expect(pool.options).toMatchObject({ query_timeout: expect.any(Number) });
      expect(timers() - before).toBeLessThan(10);
    });

    it('leaves no tenant on a pooled connection: pool of 1, tenant A statement then an untenanted query sees 0 rows', async () => {
      const single = createPool({ url: db.appUrl, max: 1, statementTimeoutMs: 5000, applicationName: 'test-single' });
      try {
        const scoped = createTenantDb(single);
        const seen = await as(a, () => scoped.select().from(documents));
        expect(seen.length).toBe(3); // positive control: the tenant statement saw A's rows
        const { rows } = await single.query(
          "select count(*)::int as n, current_setting('app.tenant_id', true) as setting, (select count(*) from documents)::int as visible",
        );
        expect(rows[0]).toEqual({ n: 1, setting: '', visible: 0 });
        // A multi-statement transaction too.
        await as(a, () => scoped.transaction(async (tx) => tx.select().from(documents)));
        const after = await single.query('select count(*)::int as n from documents');
        expect(after.rows[0].n).toBe(0);
      } finally {
        await single.end();
      }
    });

    it('leaves the connection clean after a failed statement in the batch', async () => {
      const single = createPool({ url: db.appUrl, max: 1, statementTimeoutMs: 5000, applicationName: 'test-fail' });
      try {
        const client = await single.connect();
        try {
          await expect(queryForTenant(client, a.id, { text: 'select 1 / $1::int as x', values: [0] })).rejects.toThrow(/division by zero/);
          await expect(queryForTenant(client, a.id, { text: 'select * from no_such_table' })).rejects.toThrow(/does not exist/);
          await expect(queryForTenant(client, a.id, { text: "insert into documents (tenant_id, title) values ($1, 'x')", values: [b.id] })).rejects.toThrow(
            /row-level security/,
          );
          const { rows } = await client.query(
            "select current_setting('app.tenant_id', true) as setting, (select count(*) from documents)::int as visible, pg_current_xact_id_if_assigned() as xact",
          );
          expect(rows[0]).toEqual({ setting: '', visible: 0, xact: null });
          const status = await client.query('select 1 as ok');
          expect(status.rows).toEqual([{ ok: 1 }]);
          // The same statements work again afterwards (prepared-statement bookkeeping survived the errors).
          const again = await queryForTenant(client, a.id, { text: 'select count(*)::int as n from documents' });
          expect(again.rows).toEqual([{ n: 3 }]);
          const ok = await queryForTenant(client, a.id, { text: 'select 10 / $1::int as x', values: [2] });
          expect(ok.rows).toEqual([{ x: 5 }]);
        } finally {
          client.release();
        }
      } finally {
        await single.end();
      }
    });

    it('reports a transaction whose error was swallowed as failed, and keeps the connection after a business error', async () => {
      const single = createPool({ url: db.appUrl, max: 1, statementTimeoutMs: 5000, applicationName: 'test-tx' });
      try {
        const scoped = createTenantDb(single);
        const pid = async () => (await single.query('select pg_backend_pid() as pid')).rows[0].pid;
        const before = await pid();
        // fn catches the error of a failed statement: PostgreSQL aborted the transaction, COMMIT becomes ROLLBACK.
        await expect(
          as(a, () =>
            scoped.transaction(async (tx) => {
              await tx.insert(documents).values({ title: 'lost' });
              await tx.insert(comments).values({ documentId: '00000000-0000-4000-8000-000000000000', body: 'x' }).catch(() => undefined);
            }),
          ),
        ).rejects.toThrow(/not committed/);
        expect(await as(a, () => tenantDb.select().from(documents).where(eq(documents.title, 'lost')))).toEqual([]);
        // A domain error thrown inside fn: rolled back, and the same connection is reused (not destroyed).
        await expect(as(a, () => scoped.transaction(async () => { throw new Error('business rule'); }))).rejects.toThrow('business rule');
        expect(await pid()).toBe(before);
      } finally {
        await single.end();
      }
    });

    it('rolls back a failed transaction completely', async () => {
      const before = await as(a, () => tenantDb.select({ n: count() }).from(documents));
      await expect(
        as(a, () =>
          tenantDb.transaction(async (tx) => {
            await tx.insert(documents).values({ title: 'in tx' });
            await tx.insert(comments).values({ documentId: '00000000-0000-4000-8000-000000000000', body: 'dangling' });
          }),
        ),
      ).rejects.toMatchObject({ cause: { code: '23503' } }); // the composite FK refused the dangling comment
      const after = await as(a, () => tenantDb.select({ n: count() }).from(documents));
      expect(after).toEqual(before);
      // Positive control: a successful transaction commits.
      const id = await as(a, () =>
        tenantDb.transaction(async (tx) => {
          const [doc] = await tx.insert(documents).values({ title: 'committed' }).returning();
          await tx.insert(comments).values({ documentId: doc.id, body: 'ok' });
          return doc.id;
        }),
      );
      expect(await as(a, () => tenantDb.select().from(documents).where(and(eq(documents.id, id))))).toHaveLength(1);
    });
  });
});
