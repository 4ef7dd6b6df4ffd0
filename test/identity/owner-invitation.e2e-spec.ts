import { startTestApp, TestApp } from '../helpers/test-app';
import { acceptInvitation, MEMBER_PASSWORD } from './identity-fixtures';

/** The platform admin can give an existing tenant a new owner, only through an invitation. */
describe('POST /tenants/:idOrSlug/owner-invitations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.createTenant('ownerless', { owner: undefined });
  });
  afterAll(() => t?.close());

  it('issues an owner invitation that makes its accepter owner', async () => {
    const issued = await t.request('POST', '/tenants/ownerless/owner-invitations', { admin: true, body: { email: 'new-owner@people.test' } });
    expect(issued.status).toBe(201);
    expect(issued.body.invitation).toMatchObject({ email: 'new-owner@people.test', role: 'owner', token: expect.any(String) });
    const accepted = await acceptInvitation(t, 'ownerless', issued.body.invitation.token, MEMBER_PASSWORD);
    expect(accepted.status).toBe(200);
    expect(accepted.body.role).toBe('owner');
  });

  it('is for the platform admin only, and validates its input', async () => {
    expect((await t.request('POST', '/tenants/ownerless/owner-invitations', { body: { email: 'x@people.test' } })).status).toBe(401);
    expect((await t.request('POST', '/tenants/ownerless/owner-invitations', { admin: true, body: { email: 'x@people.test', password: 'chosen-by-admin' } })).status).toBe(400);
    expect((await t.request('POST', '/tenants/no-such-tenant/owner-invitations', { admin: true, body: { email: 'x@people.test' } })).status).toBe(404);
  });
});
