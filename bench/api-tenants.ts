import type { ApiServer } from './processes';

/**
 * Tenants made the way an operator makes them, for the benches that go through the API
 * (bench:scale-out, bench:move): POST /tenants as the platform admin with an owner who has a
 * password, then the owner's JWT from POST /auth/login. Owners are `owner@<slug>.bench.test`.
 */

/** POST /tenants as the platform admin, with an owner who has a password (a new account); `database`: a TENANT_DATABASES name. */
export async function createTenant(api: ApiServer, adminKey: string, tenant: { slug: string; name: string; password: string; database?: string }): Promise<{ id: string; database: string }> {
  const { slug, name, password, database } = tenant;
  const response = await fetch(`${api.url}/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ slug, name, plan: 'enterprise', owner: { email: `owner@${slug}.bench.test`, password }, ...(database ? { database } : {}) }),
  });
  const body = (await response.json()) as { id?: string; database?: string };
  if (response.status !== 201 || !body.id || body.database !== (database ?? 'shared')) {
    throw new Error(`${api.name}: POST /tenants ${slug} answered ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  return { id: body.id, database: body.database };
}

/** The owner's JWT for the tenant (POST /auth/login), as request headers. */
export async function signIn(api: ApiServer, tenant: { id: string; slug: string }, password: string): Promise<Record<string, string>> {
  const response = await fetch(`${api.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant-id': tenant.id },
    body: JSON.stringify({ email: `owner@${tenant.slug}.bench.test`, password }),
  });
  const body = (await response.json()) as { accessToken?: string };
  if (response.status !== 200 || !body.accessToken) throw new Error(`${api.name}: POST /auth/login for ${tenant.slug} answered ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
  return { 'x-tenant-id': tenant.id, authorization: `Bearer ${body.accessToken}` };
}
