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

/** POST /members as the tenant's owner (or `auth`): the invitation, token included; throws unless 201. */
export async function invite(t: TestApp, tenant: string, email: string, role: string, auth?: string): Promise<{ id: string; email: string; role: string; token: string }> {
  const invited = await t.request('POST', '/members', { tenant, auth, body: { email, role } });
  if (invited.status !== 201) throw new Error(`invite -> ${invited.status} ${JSON.stringify(invited.body)}`);
  return invited.body.invitation;
}

/** POST /auth/accept-invitation in the tenant, without a credential; the response as is. */
export function acceptInvitation(t: TestApp, tenant: string, token: string, password: string, name?: string): Promise<ApiResponse> {
  return t.request('POST', '/auth/accept-invitation', { tenant, auth: false, body: { token, password, ...(name === undefined ? {} : { name }) } });
}

/**
 * Adds an account with `role` to the tenant the only way there is: its owner
 * invites the email, the invitation is accepted with `password` (which creates
 * the account for a new email, or must be the account's password for an
 * existing one), and the account signs in there.
 */
export async function addMember(
  t: TestApp,
  tenant: string,
  role: string,
  email = `${role}-${randomUUID().slice(0, 8)}@people.test`,
  password = MEMBER_PASSWORD,
): Promise<Account> {
  const { token } = await invite(t, tenant, email, role);
  const accepted = await acceptInvitation(t, tenant, token, password);
  if (accepted.status !== 200) throw new Error(`accept-invitation -> ${accepted.status} ${JSON.stringify(accepted.body)}`);
  const session = await t.login(tenant, email, password);
  if (session.status !== 200) throw new Error(`login -> ${session.status} ${JSON.stringify(session.body)}`);
  return { userId: session.body.user.id, email, password, token: session.body.accessToken };
}

/** Creates an API key with `role` (as the tenant's owner) and returns it with its id. */
export async function createApiKey(t: TestApp, tenant: string, role: string, name = `${role}-key-${randomUUID().slice(0, 8)}`): Promise<{ id: string; key: string }> {
  const created = await t.request('POST', '/api-keys', { tenant, body: { name, role } });
  if (created.status !== 201) throw new Error(`createApiKey -> ${created.status} ${JSON.stringify(created.body)}`);
  return { id: created.body.id, key: created.body.key };
}
