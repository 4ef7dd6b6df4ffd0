import { randomUUID } from 'node:crypto';
import { ApiResponse, TestApp } from '../helpers/test-app';

export const MEMBER_PASSWORD = 'member-password-for-tests';

export interface Account {
  userId: string;
  email: string;
  password: string;
  token: string;
}

/** The parts of an error body that must not vary between two answers meant to be identical. */
export function stable(body: any) {
  return { ...body, requestId: undefined, timestamp: undefined, path: undefined };
}

export function expectStatus(response: ApiResponse, status: number, code?: string): void {
  const seen = { status: response.status, code: response.body?.error?.code };
  expect(seen).toEqual({ status, code: code ?? seen.code });
}

/** Adds an account with `role` to the tenant (as its owner, through the API) and signs it in there. */
export async function addMember(t: TestApp, tenant: string, role: string, email = `${role}-${randomUUID().slice(0, 8)}@people.test`): Promise<Account> {
  const added = await t.request('POST', '/members', { tenant, body: { email, role, password: MEMBER_PASSWORD } });
  if (added.status !== 201) throw new Error(`addMember -> ${added.status} ${JSON.stringify(added.body)}`);
  const session = await t.login(tenant, email, MEMBER_PASSWORD);
  if (session.status !== 200) throw new Error(`login -> ${session.status} ${JSON.stringify(session.body)}`);
  return { userId: added.body.member.userId, email, password: MEMBER_PASSWORD, token: session.body.accessToken };
}

/** Creates an API key with `role` (as the tenant's owner) and returns it with its id. */
export async function createApiKey(t: TestApp, tenant: string, role: string, name = `${role}-key-${randomUUID().slice(0, 8)}`): Promise<{ id: string; key: string }> {
  const created = await t.request('POST', '/api-keys', { tenant, body: { name, role } });
  if (created.status !== 201) throw new Error(`createApiKey -> ${created.status} ${JSON.stringify(created.body)}`);
  return { id: created.body.id, key: created.body.key };
}
