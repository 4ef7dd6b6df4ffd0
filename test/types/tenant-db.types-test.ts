/**
 * Type-level test of TenantDb, compiled by `npm run typecheck` (test/tsconfig.json)
 * and never executed (jest runs only *.spec.ts / *.e2e-spec.ts).
 *
 * Each `@ts-expect-error` proves that a call the scoped handle refuses at run time
 * does not compile either: if it ever compiled, the directive would be unused,
 * which is itself a compile error. The `Expect<Equal<...>>` lines prove that what
 * is allowed keeps drizzle's exact result types.
 *
 * Control: with `db` declared as the raw drizzle handle instead, every refusal of a
 * select/insert/update/delete method or entry point below becomes an unused
 * directive (except the ones drizzle refuses itself: update joins before from(),
 * delete ... using, malformed rows), so they are proven by TenantDb's types.
 */
import { eq, sql } from 'drizzle-orm';
import { union } from 'drizzle-orm/pg-core';
import { comments, CommentRow, DocumentRow, documents, MembershipRow, memberships, tenants, users } from '../../src/database/schema';
import { Placeholders, TenantDb, TenantPreparedQuery } from '../../src/database/tenant-db';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

declare const db: TenantDb;
type UserRow = typeof users.$inferSelect;

/** What is allowed compiles, with drizzle's result types. */
export async function allowed() {
  const partial = await db.select({ id: documents.id, title: documents.title }).from(documents).where(eq(documents.id, 'x'));
  const rows: { id: string; title: string }[] = partial;
  type _partial = Expect<Equal<typeof partial, { id: string; title: string }[]>>;

  const all = await db.select().from(documents).where(eq(documents.title, 't')).orderBy(documents.createdAt).limit(10).offset(5);
  type _all = Expect<Equal<typeof all, DocumentRow[]>>;

  // A joined platform table: allowed (not filtered), its columns nullable in a left join.
  const withAuthor = await db
    .select({ title: documents.title, email: users.email })
    .from(documents)
    .leftJoin(users, eq(users.id, documents.createdBy))
    .where(eq(documents.title, 't'));
  type _withAuthor = Expect<Equal<typeof withAuthor, { title: string; email: string | null }[]>>;

  // Full selection over joins: one object per table, the left-joined one nullable.
  const joined = await db
    .select()
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .leftJoin(comments, eq(comments.createdBy, memberships.userId));
  type _joined = Expect<Equal<typeof joined, { memberships: MembershipRow; users: UserRow; comments: CommentRow | null }[]>>;

  // Callback form of where, and locking.
  const locked = await db.select({ id: comments.id }).from(comments).where((c) => eq(c.id, 'x')).for('update');
  type _locked = Expect<Equal<typeof locked, { id: string }[]>>;

  // Insert without tenantId (filled in), or naming it; returning.
  const inserted = await db.insert(documents).values({ title: 't' }).returning();
  type _inserted = Expect<Equal<typeof inserted, DocumentRow[]>>;
  await db.insert(documents).values([{ title: 't', tenantId: 'own' }, { title: 'u' }]).onConflictDoNothing();
  const upserted = await db
    .insert(comments)
    .values({ documentId: 'd', body: 'b' })
    .onConflictDoUpdate({ target: comments.id, set: { body: 'c' } })
    .returning({ id: comments.id });
  type _upserted = Expect<Equal<typeof upserted, { id: string }[]>>;

  const updated = await db.update(documents).set({ title: 't' }).where(eq(documents.id, 'x')).returning({ id: documents.id });
  type _updated = Expect<Equal<typeof updated, { id: string }[]>>;

  const deleted = await db.delete(documents).where(eq(documents.id, 'x')).returning();
  type _deleted = Expect<Equal<typeof deleted, DocumentRow[]>>;

  const inTx = await db.transaction(async (tx) => tx.select({ n: sql<number>`count(*)` }).from(comments));
  type _inTx = Expect<Equal<typeof inTx, { n: number }[]>>;

  return rows;
}

/** Platform tables are not accepted where the tenant filter would apply. */
export function platformTables() {
  // @ts-expect-error tenants is a platform table
  db.select().from(tenants);
  // @ts-expect-error users is a platform table
  db.select().from(users);
  // @ts-expect-error users is a platform table, also with a partial selection
  db.select({ id: users.id }).from(users);
  // @ts-expect-error platform table
  db.insert(tenants);
  // @ts-expect-error platform table
  db.insert(users);
  // @ts-expect-error platform table
  db.update(tenants);
  // @ts-expect-error platform table
  db.update(users);
  // @ts-expect-error platform table
  db.delete(tenants);
  // @ts-expect-error platform table
  db.delete(users);
}

/** Joins that would widen the query beyond the tenant, right after from() and after a chain. */
export function refusedJoins() {
  const q = db.select().from(documents);
  // @ts-expect-error right join
  q.rightJoin(comments, eq(comments.documentId, documents.id));
  // @ts-expect-error full join
  q.fullJoin(comments, eq(comments.documentId, documents.id));
  // @ts-expect-error cross join
  q.crossJoin(comments);
  // @ts-expect-error lateral join
  q.leftJoinLateral(sql`(select 1)`, sql`true`);
  // @ts-expect-error lateral join
  q.innerJoinLateral(sql`(select 1)`, sql`true`);
  // @ts-expect-error lateral join
  q.crossJoinLateral(sql`(select 1)`);

  const chained = db.select().from(documents).where(eq(documents.id, 'x')).leftJoin(users, eq(users.id, documents.createdBy)).orderBy(documents.id);
  // @ts-expect-error right join after a where/leftJoin/orderBy chain
  chained.rightJoin(comments, sql`true`);
  // @ts-expect-error full join after a chain
  chained.fullJoin(comments, sql`true`);
  // @ts-expect-error cross join after a chain
  chained.crossJoin(comments);
  // @ts-expect-error lateral join after a chain
  chained.leftJoinLateral(sql`(select 1)`, sql`true`);
  // @ts-expect-error right join after innerJoin
  db.select().from(memberships).innerJoin(users, eq(users.id, memberships.userId)).rightJoin(comments, sql`true`);
}

/** Set operators could append a query built outside the scoped handle. */
export function refusedSetOperators() {
  const other = db.select().from(documents);
  const q = db.select().from(documents);
  // @ts-expect-error union right after from()
  q.union(other);
  // @ts-expect-error unionAll
  q.unionAll(other);
  // @ts-expect-error intersect
  q.intersect(other);
  // @ts-expect-error intersectAll
  q.intersectAll(other);
  // @ts-expect-error except
  q.except(other);
  // @ts-expect-error exceptAll
  q.exceptAll(other);
  // @ts-expect-error union after where()
  db.select().from(documents).where(eq(documents.id, 'x')).union(other);
  // (The right-hand sides below have the same row shape, so only the scoping refuses them.)
  const joinedOther = db.select().from(documents).leftJoin(comments, sql`true`);
  // @ts-expect-error union after leftJoin()
  db.select().from(documents).leftJoin(comments, sql`true`).union(joinedOther);
  const idsOther = db.select({ id: documents.id }).from(documents);
  // @ts-expect-error unionAll after a longer chain
  db.select({ id: documents.id }).from(documents).innerJoin(comments, sql`true`).where(sql`true`).orderBy(documents.id).limit(1).unionAll(idsOther);
  // The standalone union() reads only drizzle's `_` marker, so it compiles; the run time refuses it
  // (test/database/tenant-db.e2e-spec.ts).
  union(q, other);
}

/** $dynamic() would reset drizzle's excluded methods and give the refused ones back. */
export function refusedDynamic() {
  // @ts-expect-error select
  db.select().from(documents).$dynamic();
  // @ts-expect-error select after a chain
  db.select().from(documents).where(sql`true`).$dynamic();
  // @ts-expect-error insert
  db.insert(documents).values({ title: 't', tenantId: 'own' }).$dynamic();
  // @ts-expect-error update
  db.update(documents).set({ title: 't' }).$dynamic();
  // @ts-expect-error delete
  db.delete(documents).$dynamic();
}

/** Raw SQL, relational queries, CTEs and the other drizzle entry points are not on the handle. */
export function refusedEntryPoints() {
  // @ts-expect-error raw SQL
  db.execute(sql`select 1`);
  // @ts-expect-error relational query API
  db.query.documents.findMany();
  // @ts-expect-error CTE builder
  db.$with('x');
  // @ts-expect-error CTE
  db.with();
  // @ts-expect-error selectDistinct is not offered
  db.selectDistinct().from(documents);
  // @ts-expect-error the drizzle handle inside is not public
  db.db.select().from(tenants);
}

/** Writes: no insert ... select, no update ... from / joins, no delete ... using; rows typed. */
export function refusedWrites() {
  // @ts-expect-error insert ... select
  db.insert(documents).select(sql`select 1`);
  // @ts-expect-error a required column is missing
  db.insert(documents).values({ body: 'b' });
  // @ts-expect-error tenantId must be a string when given
  db.insert(documents).values({ title: 't', tenantId: 1 });
  // @ts-expect-error unknown column
  db.insert(documents).values({ title: 't', nope: 1 });
  // @ts-expect-error update ... from
  db.update(documents).set({ title: 't' }).from(comments);
  // @ts-expect-error update ... from after where
  db.update(documents).set({ title: 't' }).where(sql`true`).from(comments);
  // @ts-expect-error update with a join
  db.update(documents).set({ title: 't' }).leftJoin(users, sql`true`);
  // @ts-expect-error update with a join
  db.update(documents).set({ title: 't' }).innerJoin(users, sql`true`);
  // @ts-expect-error update with a join
  db.update(documents).set({ title: 't' }).rightJoin(users, sql`true`);
  // @ts-expect-error update with a join
  db.update(documents).set({ title: 't' }).fullJoin(users, sql`true`);
  // @ts-expect-error set of an unknown column
  db.update(documents).set({ nope: 1 });
  // @ts-expect-error delete ... using
  db.delete(documents).using(comments);
  // @ts-expect-error delete ... using after where
  db.delete(documents).where(sql`true`).using(comments);
}

/** drizzle's prepare() keeps the tenant of the moment it was built: refused on every builder (prepared() instead). */
export function refusedPrepare() {
  // @ts-expect-error select
  db.select().from(documents).prepare('x');
  // @ts-expect-error select after a chain
  db.select().from(documents).where(sql`true`).limit(1).prepare('x');
  // @ts-expect-error insert
  db.insert(documents).values({ title: 't' }).returning().prepare('x');
  // @ts-expect-error update
  db.update(documents).set({ title: 't' }).where(sql`true`).prepare('x');
  // @ts-expect-error delete
  db.delete(documents).where(sql`true`).prepare('x');
}

/** Prepared queries: drizzle's result types, typed parameters, the same builders and refusals on `q`. */
export async function preparedQueries() {
  const byId = db.prepared((q, p: Placeholders<{ id: string }>) => q.select().from(documents).where(eq(documents.id, p.id)).limit(1));
  const rows = await byId.execute({ id: 'x' });
  type _rows = Expect<Equal<typeof rows, DocumentRow[]>>;
  await db.transaction(async (tx) => byId.execute({ id: 'x' }, tx));

  const roles = db.prepared((q, p: Placeholders<{ userId: string }>) =>
    q.select({ role: memberships.role }).from(memberships).innerJoin(users, eq(users.id, memberships.userId)).where(eq(memberships.userId, p.userId)),
  );
  const role = await roles.execute({ userId: 'x' });
  type _role = Expect<Equal<typeof role, { role: MembershipRow['role'] }[]>>;

  const insert = db.prepared((q, p: Placeholders<{ title: string; tags: string[] }>) => q.insert(documents).values({ title: p.title, tags: p.tags }).returning());
  const inserted = await insert.execute({ title: 't', tags: [] });
  type _inserted = Expect<Equal<typeof inserted, DocumentRow[]>>;
  const rename = db.prepared((q, p: Placeholders<{ id: string; title: string }>) =>
    q.update(documents).set({ title: p.title }).where(eq(documents.id, p.id)).returning({ id: documents.id }),
  );
  const renamed = await rename.execute({ id: 'x', title: 't' });
  type _renamed = Expect<Equal<typeof renamed, { id: string }[]>>;
  const all = db.prepared((q) => q.delete(documents));
  await all.execute({});

  // @ts-expect-error a parameter the query does not declare
  await byId.execute({ di: 'x' });
  // @ts-expect-error a missing parameter
  await byId.execute({});
  // @ts-expect-error a parameter of the wrong type
  await byId.execute({ id: 1 });
  // @ts-expect-error the tenant's placeholder is not a parameter a caller declares
  db.prepared((q, p: Placeholders<{ 'tenancy.tenantId': string }>) => q.select().from(documents).where(eq(documents.tenantId, p['tenancy.tenantId'])));
  // @ts-expect-error an undeclared placeholder (p is not annotated)
  db.prepared((q, p) => q.select().from(documents).where(eq(documents.id, p.id)));
  // @ts-expect-error a platform table
  db.prepared((q) => q.select().from(tenants));
  // @ts-expect-error a platform table
  db.prepared((q) => q.insert(users));
  // @ts-expect-error a refused join on q
  db.prepared((q) => q.select().from(documents).rightJoin(comments, sql`true`));
  // @ts-expect-error a set operator on q
  db.prepared((q) => q.select().from(documents).union(db.select().from(documents)));
  // @ts-expect-error $dynamic on q
  db.prepared((q) => q.select().from(documents).$dynamic());
  // @ts-expect-error not a query: a select without from()
  db.prepared((q) => q.select());
  // @ts-expect-error q has no transaction()
  db.prepared((q) => q.transaction(async () => []));
  // @ts-expect-error q has no prepared()
  db.prepared((q) => q.prepared(() => db.select().from(documents)));
  // @ts-expect-error only prepared() makes a prepared query (the class is exported as a type only)
  new TenantPreparedQuery();
}
