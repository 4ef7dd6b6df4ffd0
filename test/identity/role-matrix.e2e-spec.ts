import { randomUUID } from 'node:crypto';
import { ApiResponse, startTestApp, TestApp } from '../helpers/test-app';
import { Account, addMember, createApiKey } from './identity-fixtures';

type Role = 'viewer' | 'member' | 'admin' | 'owner';
const ROLES: Role[] = ['viewer', 'member', 'admin', 'owner'];
const from = (least: Role) => ROLES.slice(ROLES.indexOf(least));

/**
 * Level two of authorization, over HTTP: every action of the README's role x
 * action table, as every role, both as a signed-in user and as an API key of
 * that role. Allowed: the action's success status. Refused: 403
 * INSUFFICIENT_ROLE. Each case prepares its own targets as the owner, so the
 * cases do not depend on each other.
 */
describe('role x action matrix over HTTP', () => {
  let t: TestApp;
  const TENANT = 'matrix';
  let author: Account;
  const callers: Array<{ label: string; role: Role; auth: string }> = [];

  beforeAll(async () => {
    t = await startTestApp();
    await t.createTenant(TENANT);
    // Content of "someone else": written by a member that is not one of the callers.
    author = await addMember(t, TENANT, 'member');
    for (const role of ROLES) {
      const user = role === 'owner' ? { token: t.tokenFor(TENANT)! } : await addMember(t, TENANT, role);
      callers.push({ label: `${role} user`, role, auth: user.token });
      callers.push({ label: `${role} API key`, role, auth: (await createApiKey(t, TENANT, role)).key });
    }
  });
  afterAll(() => t?.close());

  const asOwner = (method: string, path: string, body?: unknown) => t.request(method, path, { tenant: TENANT, body });
  const as = (auth: string) => (method: string, path: string, body?: unknown) => t.request(method, path, { tenant: TENANT, auth, body });
  const newDoc = async (auth = author.token) => (await as(auth)('POST', '/documents', { title: 'target' })).body.id as string;
  const newComment = async (doc: string, auth = author.token) => (await as(auth)('POST', `/documents/${doc}/comments`, { body: 'note' })).body.id as string;
  const newUser = async (role: Role) => (await addMember(t, TENANT, role)).userId;
  const email = () => `invitee-${randomUUID().slice(0, 8)}@people.test`;

  type Call = (auth: string) => Promise<ApiResponse>;
  const cases: Array<{ action: string; allowed: Role[]; status: number; run: Call }> = [
    { action: 'list documents', allowed: from('viewer'), status: 200, run: (a) => as(a)('GET', '/documents') },
    { action: 'read a document', allowed: from('viewer'), status: 200, run: async (a) => as(a)('GET', `/documents/${await newDoc()}`) },
    { action: 'list comments', allowed: from('viewer'), status: 200, run: async (a) => as(a)('GET', `/documents/${await newDoc()}/comments`) },
    { action: 'create a document', allowed: from('member'), status: 201, run: (a) => as(a)('POST', '/documents', { title: 'mine' }) },
    { action: "edit someone else's document", allowed: from('member'), status: 200, run: async (a) => as(a)('PATCH', `/documents/${await newDoc()}`, { title: 'edited' }) },
    { action: 'comment', allowed: from('member'), status: 201, run: async (a) => as(a)('POST', `/documents/${await newDoc()}/comments`, { body: 'hi' }) },
    {
      action: 'delete an own document',
      allowed: from('member'),
      status: 204,
      // A viewer cannot have written one: it tries the same on a document of someone else.
      run: async (a) => {
        const own = (await as(a)('POST', '/documents', { title: 'own' })).body?.id ?? (await newDoc());
        return as(a)('DELETE', `/documents/${own}`);
      },
    },
    { action: "delete someone else's document", allowed: from('admin'), status: 204, run: async (a) => as(a)('DELETE', `/documents/${await newDoc()}`) },
    {
      action: 'delete an own comment',
      allowed: from('member'),
      status: 204,
      run: async (a) => {
        const doc = await newDoc();
        const own = (await as(a)('POST', `/documents/${doc}/comments`, { body: 'own' })).body?.id ?? (await newComment(doc));
        return as(a)('DELETE', `/documents/${doc}/comments/${own}`);
      },
    },
    {
      action: "delete someone else's comment",
      allowed: from('admin'),
      status: 204,
      run: async (a) => {
        const doc = await newDoc();
        return as(a)('DELETE', `/documents/${doc}/comments/${await newComment(doc)}`);
      },
    },
    { action: 'list members', allowed: from('viewer'), status: 200, run: (a) => as(a)('GET', '/members') },
    { action: 'invite a member', allowed: from('admin'), status: 201, run: (a) => as(a)('POST', '/members', { email: email(), role: 'member' }) },
    { action: 'invite an admin', allowed: from('admin'), status: 201, run: (a) => as(a)('POST', '/members', { email: email(), role: 'admin' }) },
    { action: 'list invitations', allowed: from('admin'), status: 200, run: (a) => as(a)('GET', '/members/invitations') },
    {
      action: 'revoke an invitation',
      allowed: from('admin'),
      status: 204,
      run: async (a) => as(a)('DELETE', `/members/invitations/${(await asOwner('POST', '/members', { email: email(), role: 'viewer' })).body.invitation.id}`),
    },
    { action: "change a member's role", allowed: from('admin'), status: 200, run: async (a) => as(a)('PATCH', `/members/${await newUser('viewer')}`, { role: 'member' }) },
    { action: 'remove a member', allowed: from('admin'), status: 204, run: async (a) => as(a)('DELETE', `/members/${await newUser('viewer')}`) },
    { action: 'invite an owner', allowed: from('owner'), status: 201, run: (a) => as(a)('POST', '/members', { email: email(), role: 'owner' }) },
    { action: 'promote a member to owner', allowed: from('owner'), status: 200, run: async (a) => as(a)('PATCH', `/members/${await newUser('member')}`, { role: 'owner' }) },
    { action: 'demote an owner', allowed: from('owner'), status: 200, run: async (a) => as(a)('PATCH', `/members/${await newUser('owner')}`, { role: 'admin' }) },
    { action: 'remove an owner', allowed: from('owner'), status: 204, run: async (a) => as(a)('DELETE', `/members/${await newUser('owner')}`) },
    { action: 'list API keys', allowed: from('admin'), status: 200, run: (a) => as(a)('GET', '/api-keys') },
    { action: 'create a member API key', allowed: from('admin'), status: 201, run: (a) => as(a)('POST', '/api-keys', { name: `k-${randomUUID()}`, role: 'member' }) },
    { action: 'create an owner API key', allowed: from('owner'), status: 201, run: (a) => as(a)('POST', '/api-keys', { name: `k-${randomUUID()}`, role: 'owner' }) },
    { action: 'revoke an API key', allowed: from('admin'), status: 204, run: async (a) => as(a)('DELETE', `/api-keys/${(await createApiKey(t, TENANT, 'viewer')).id}`) },
    { action: 'revoke an owner API key', allowed: from('owner'), status: 204, run: async (a) => as(a)('DELETE', `/api-keys/${(await createApiKey(t, TENANT, 'owner')).id}`) },
    { action: 'read GET /me', allowed: from('viewer'), status: 200, run: (a) => as(a)('GET', '/me') },
  ];

  it.each(cases.map((c) => [c.action, c] as const))('%s', async (_action, c) => {
    const results: string[] = [];
    const expected: string[] = [];
    for (const caller of callers) {
      const response = await c.run(caller.auth);
      results.push(`${caller.label}: ${response.status} ${response.body?.error?.code ?? ''}`.trim());
      expected.push(`${caller.label}: ${c.allowed.includes(caller.role) ? c.status : '403 INSUFFICIENT_ROLE'}`);
    }
    expect(results).toEqual(expected);
  });

  it('a refused delete changed nothing', async () => {
    const member = callers.find((c) => c.label === 'member user')!;
    const doc = await newDoc();
    expect((await as(member.auth)('DELETE', `/documents/${doc}`)).status).toBe(403);
    expect((await asOwner('GET', `/documents/${doc}`)).status).toBe(200);
    // Positive control: the author deletes it.
    expect((await as(author.token)('DELETE', `/documents/${doc}`)).status).toBe(204);
    expect((await asOwner('GET', `/documents/${doc}`)).status).toBe(404);
  });
});
