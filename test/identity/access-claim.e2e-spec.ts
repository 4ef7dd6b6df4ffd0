import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { AccessCache } from '../../src/access/access-cache';
import { ROLE_RANK } from '../../src/access/permissions';
import { CacheService } from '../../src/cache/cache.service';
import { MEMBERSHIP_ROLES } from '../../src/database/schema/memberships';
import { startOtherInstance, startTestApp, TestApp } from '../helpers/test-app';
import { addMember, createApiKey, expectStatus } from './identity-fixtures';

/**
 * Admission may take a user's role or an API key from AccessCache (for
 * ACCESS_CACHE_TTL_MS) instead of reading it first. Revocation must still be
 * immediate on every instance: these tests run two instances on one database,
 * warm instance B's cache, change the access through instance A (B's cache is
 * then stale: nothing tells B), and expect B to refuse at once, because
 * PostgreSQL re-checks the request's claim with its statements (tenancy_enter,
 * migration 0007) and a request that sends none is confirmed before it answers.
 * Each case first shows that B really holds the stale entry (the positive
 * control: otherwise B would simply read the database and prove nothing).
 */
describe('admitted access is re-checked by PostgreSQL on every instance', () => {
  let t: TestApp;
  let other: INestApplication;
  let b: string;
  let tenant: { id: string; slug: string };

  beforeAll(async () => {
    // Long tenant-lookup TTL too: the cache-served read below counts misses, and a tenant lookup
    // expiring between two requests on a slow machine would count one that is not the document's.
    t = await startTestApp({ ACCESS_CACHE_TTL_MS: '60000', TENANT_CACHE_TTL_MS: '60000' });
    ({ app: other, baseUrl: b } = await startOtherInstance(t));
    tenant = await t.createTenant('claims');
  });
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  const atA = (auth: string | undefined, method: string, path: string, body?: unknown) => t.request(method, path, { tenant: tenant.slug, auth, body });
  const atB = (auth: string, method: string, path: string, body?: unknown) => t.request(method, path, { tenant: tenant.slug, auth, body, baseUrl: b });
  const cacheOfB = () => other.get(AccessCache, { strict: false });
  // Straight from the table (each instance has its own document cache, and A's is not told of B's writes).
  const titles = async (): Promise<string[]> => {
    const client = new Client({ connectionString: t.db.superuserUrl });
    await client.connect();
    try {
      return (await client.query('select title from documents where tenant_id = $1', [tenant.id])).rows.map((row) => row.title);
    } finally {
      await client.end();
    }
  };
  const memberIds = async () => ((await atA(undefined, 'GET', '/members?limit=100')).body.items as Array<{ userId: string }>).map((m) => m.userId);

  it('a member removed through A is refused by B at once, for reads and writes, and nothing is written', async () => {
    const member = await addMember(t, tenant.slug, 'member');
    expectStatus(await atB(member.token, 'GET', '/documents'), 200);
    expect(cacheOfB().memberRole(tenant.id, member.userId)).toBe('member');

    expectStatus(await atA(undefined, 'DELETE', `/members/${member.userId}`), 204);
    expect(cacheOfB().memberRole(tenant.id, member.userId)).toBe('member'); // B was not told
    expectStatus(await atB(member.token, 'POST', '/documents', { title: 'written after removal' }), 403, 'TENANT_ACCESS_DENIED');
    expect(await titles()).not.toContain('written after removal');
    // B forgot the entry when PostgreSQL refused; the next request is judged by the guard, with the same answer.
    expect(cacheOfB().memberRole(tenant.id, member.userId)).toBeUndefined();
    expectStatus(await atB(member.token, 'GET', '/documents'), 403, 'TENANT_ACCESS_DENIED');
  });

  it('a multi-statement write (a transaction) by a removed admin is refused at BEGIN', async () => {
    const admin = await addMember(t, tenant.slug, 'admin');
    const target = await addMember(t, tenant.slug, 'viewer');
    expectStatus(await atB(admin.token, 'GET', '/members'), 200);
    expect(cacheOfB().memberRole(tenant.id, admin.userId)).toBe('admin');

    expectStatus(await atA(undefined, 'DELETE', `/members/${admin.userId}`), 204);
    expectStatus(await atB(admin.token, 'DELETE', `/members/${target.userId}`), 403, 'TENANT_ACCESS_DENIED');
    expect(await memberIds()).toContain(target.userId);
  });

  it('a role lowered through A: B answers 409 ACCESS_CHANGED without doing anything, then the new role applies', async () => {
    const member = await addMember(t, tenant.slug, 'member');
    expectStatus(await atB(member.token, 'POST', '/documents', { title: 'as a member' }), 201);
    expect(cacheOfB().memberRole(tenant.id, member.userId)).toBe('member');

    expectStatus(await atA(undefined, 'PATCH', `/members/${member.userId}`, { role: 'viewer' }), 200);
    expectStatus(await atB(member.token, 'POST', '/documents', { title: 'as a viewer' }), 409, 'ACCESS_CHANGED');
    expect(await titles()).toEqual(expect.arrayContaining(['as a member']));
    expect(await titles()).not.toContain('as a viewer');
    expectStatus(await atB(member.token, 'POST', '/documents', { title: 'as a viewer' }), 403, 'INSUFFICIENT_ROLE');
    expectStatus(await atB(member.token, 'GET', '/documents'), 200);
  });

  it('a role raised through A counts at once on B (a cached role that refuses is read again)', async () => {
    const viewer = await addMember(t, tenant.slug, 'viewer');
    expectStatus(await atB(viewer.token, 'GET', '/documents'), 200);
    expectStatus(await atB(viewer.token, 'POST', '/documents', { title: 'refused' }), 403, 'INSUFFICIENT_ROLE');
    expect(cacheOfB().memberRole(tenant.id, viewer.userId)).toBe('viewer');

    expectStatus(await atA(undefined, 'PATCH', `/members/${viewer.userId}`, { role: 'member' }), 200);
    expectStatus(await atB(viewer.token, 'POST', '/documents', { title: 'promoted' }), 201);
  });

  it('an API key revoked through A is refused by B at once with 401 invalid_token', async () => {
    const { id, key } = await createApiKey(t, tenant.slug, 'member');
    expectStatus(await atB(key, 'GET', '/documents'), 200);
    expect(cacheOfB().apiKey(id)?.role).toBe('member');

    expectStatus(await atA(undefined, 'DELETE', `/api-keys/${id}`), 204);
    const refused = await atB(key, 'GET', '/documents');
    expectStatus(refused, 401, 'UNAUTHENTICATED');
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expectStatus(await atB(key, 'GET', '/documents'), 401, 'UNAUTHENTICATED');
  });

  it('a read B serves from its document cache (no statement) is confirmed with PostgreSQL before it answers', async () => {
    const member = await addMember(t, tenant.slug, 'member');
    const doc = await atA(undefined, 'POST', '/documents', { title: 'cached on B' });
    expectStatus(doc, 201);
    const cache = other.get(CacheService, { strict: false });
    expectStatus(await atB(member.token, 'GET', `/documents/${doc.body.id}`), 200);
    const missesBefore = cache.metrics().misses;
    expectStatus(await atB(member.token, 'GET', `/documents/${doc.body.id}`), 200);
    expect(cache.metrics().misses).toBe(missesBefore); // served from B's cache: no document statement ran

    expectStatus(await atA(undefined, 'DELETE', `/members/${member.userId}`), 204);
    const refused = await atB(member.token, 'GET', `/documents/${doc.body.id}`);
    expectStatus(refused, 403, 'TENANT_ACCESS_DENIED');
    expect(JSON.stringify(refused.body)).not.toContain('cached on B');
  });

  it('an owner lowering their own role gets the 200 (the answer is read in the same transaction)', async () => {
    const second = await addMember(t, tenant.slug, 'owner');
    const changed = await t.request('PATCH', `/members/${second.userId}`, { tenant: tenant.slug, auth: second.token, body: { role: 'admin' } });
    expectStatus(changed, 200);
    expect(changed.body.role).toBe('admin');
  });

  it("tenancy_enter ranks roles as permissions.ts does, and sets the tenant for the statements after it", async () => {
    const client = new Client({ connectionString: t.db.appUrl });
    await client.connect();
    const superuser = new Client({ connectionString: t.db.superuserUrl });
    await superuser.connect();
    try {
      const member = await addMember(t, tenant.slug, 'viewer');
      const outcome: Record<string, string> = {};
      for (const held of MEMBERSHIP_ROLES) {
        await superuser.query('update memberships set role = $1 where tenant_id = $2 and user_id = $3', [held, tenant.id, member.userId]);
        for (const admitted of MEMBERSHIP_ROLES) {
          await client.query('begin');
          try {
            await client.query('select public.tenancy_enter($1, $2, $3, $4)', [tenant.id, 'user', member.userId, admitted]);
            const { rows } = await client.query('select count(*)::int as n from memberships');
            expect(rows[0].n).toBeGreaterThan(0); // the tenant is set: RLS lets its rows through
            outcome[`${held}/${admitted}`] = 'ok';
          } catch (error) {
            outcome[`${held}/${admitted}`] = (error as { code: string }).code;
          } finally {
            await client.query('rollback');
          }
        }
      }
      const expected = Object.fromEntries(
        MEMBERSHIP_ROLES.flatMap((held) => MEMBERSHIP_ROLES.map((admitted) => [`${held}/${admitted}`, ROLE_RANK[held] >= ROLE_RANK[admitted] ? 'ok' : 'TA409'])),
      );
      expect(outcome).toEqual(expected);
      // Without a claim, the setting is gone after the transaction: nothing leaks into the next one.
      expect((await client.query('select count(*)::int as n from memberships')).rows[0].n).toBe(0);
    } finally {
      await client.end();
      await superuser.end();
    }
  });
});
