import { randomBytes, randomUUID } from 'node:crypto';
import { newApiKey } from '../src/api-keys/api-key-token';
import { PasswordHasher } from '../src/users/password-hasher';
import { withClient } from './postgres';

/**
 * The headers every benchmark request sends for a tenant. Authentication is
 * held constant across variants: all of them are @TenantRoute()s behind the
 * same global guard, and every request of every variant carries the same
 * credential for its tenant, so each pays the same verification (JWT check
 * plus the per-request membership lookup).
 *
 * Credentials come through the API: every tenant of the dataset gets a member
 * (seeded in SQL with a real argon2id hash, so the users and memberships tables
 * grow with the tenant count like the documents table), and each tenant that
 * receives traffic signs in with POST /auth/login for a bearer token.
 *
 * An API without POST /auth/login (before identity existed) needs only x-tenant-id.
 */
export async function obtainCredentials(
  apiUrl: string,
  superuserDbUrl: string,
  tenants: Array<{ id: string; slug: string }>,
): Promise<Map<string, Record<string, string>>> {
  const probe = await fetch(`${apiUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const probeBody = (await probe.json().catch(() => ({}))) as { error?: { code?: string } };
  if (probe.status === 404 && probeBody.error?.code === 'ROUTE_NOT_FOUND') {
    return new Map(tenants.map((tenant) => [tenant.id, { 'x-tenant-id': tenant.id }]));
  }

  const password = `bench-${randomBytes(12).toString('base64url')}`;
  const passwordHash = await new PasswordHasher().hash(password);
  const emailOf = (slug: string) => `member@${slug}.bench.test`;
  await withClient(superuserDbUrl, async (client) => {
    await client.query(
      `insert into users (email, name, password_hash)
       select 'member@' || slug || '.bench.test', 'Bench member of ' || slug, $1 from tenants where slug like 'bench-%'
       on conflict do nothing`,
      [passwordHash],
    );
    await client.query(
      `insert into memberships (tenant_id, user_id, role)
       select t.id, u.id, 'member' from tenants t join users u on u.email = 'member@' || t.slug || '.bench.test'
       on conflict do nothing`,
    );
    await client.query('analyze users; analyze memberships');
  });

  const headers = new Map<string, Record<string, string>>();
  for (const tenant of tenants) {
    const response = await fetch(`${apiUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': tenant.id },
      body: JSON.stringify({ email: emailOf(tenant.slug), password }),
    });
    const body = (await response.json()) as { accessToken?: string };
    if (response.status !== 200 || !body.accessToken) {
      throw new Error(`bench: POST /auth/login for ${tenant.slug} answered ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
    }
    headers.set(tenant.id, { 'x-tenant-id': tenant.id, authorization: `Bearer ${body.accessToken}` });
  }
  return headers;
}

/**
 * The headers of the API-key variant: one key per tenant that receives
 * traffic, role member (what the JWT's member has), made by the app's own
 * newApiKey (format and SHA-256 as POST /api-keys stores them) and inserted as
 * the superuser: creating keys through the API would need an admin's session,
 * which the bench has no other use for. The guard then verifies each request's
 * key as in production: a primary-key lookup in the key's tenant, compared in
 * constant time.
 */
export async function createApiKeys(superuserDbUrl: string, tenants: Array<{ id: string }>): Promise<Map<string, Record<string, string>>> {
  const keys = tenants.map((tenant) => {
    const id = randomUUID();
    return { id, tenantId: tenant.id, ...newApiKey(id, tenant.id) };
  });
  await withClient(superuserDbUrl, async (client) => {
    await client.query(
      `insert into api_keys (tenant_id, id, name, role, prefix, secret_hash)
       select tenant_id, id, 'bench traffic', 'member', prefix, secret_hash
       from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) as k(tenant_id, id, prefix, secret_hash)`,
      [keys.map((k) => k.tenantId), keys.map((k) => k.id), keys.map((k) => k.prefix), keys.map((k) => k.secretHash)],
    );
    await client.query('analyze api_keys');
  });
  return new Map(keys.map((k) => [k.tenantId, { 'x-tenant-id': k.tenantId, authorization: `Bearer ${k.key}` }]));
}
