import { startTestApp, TestApp } from '../helpers/test-app';

/** Two admins inviting the same address at the same moment leave one usable invitation, never two. */
describe('concurrent invitations of one email', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.createTenant('invites');
  });
  afterAll(() => t?.close());

  it('grants one of the simultaneous invitations and answers 409 to the rest', async () => {
    const email = 'simultaneous@people.test';
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => t.request('POST', '/members', { tenant: 'invites', body: { email, role: 'member' } })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const pending = await t.request('GET', '/members/invitations?limit=100', { tenant: 'invites' });
    expect(pending.status).toBe(200);
    expect(pending.body.items.filter((i: any) => i.email === email)).toHaveLength(1);
    // Positive control: inviting again afterwards renews it (still exactly one pending).
    expect((await t.request('POST', '/members', { tenant: 'invites', body: { email, role: 'viewer' } })).status).toBe(201);
    const after = await t.request('GET', '/members/invitations?limit=100', { tenant: 'invites' });
    expect(after.body.items.filter((i: any) => i.email === email).map((i: any) => i.role)).toEqual(['viewer']);
  });
});
