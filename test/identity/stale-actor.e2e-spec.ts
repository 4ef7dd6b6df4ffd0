import { Principal } from '../../src/access/principal';
import { MembersService } from '../../src/members/members.service';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { startTestApp, TestApp } from '../helpers/test-app';
import { addMember, expectStatus } from './identity-fixtures';

/**
 * A request admitted with one role can still be running when that role is taken
 * away: role changes re-read the acting user's membership under the same lock.
 */
describe('role changes judge the actor by their role at the time of the change', () => {
  let t: TestApp;
  let members: MembersService;
  let tenancy: TenantResolver;

  beforeAll(async () => {
    t = await startTestApp();
    members = t.app.get(MembersService);
    tenancy = t.app.get(TenantResolver);
    await t.createTenant('stale-actor');
  });
  afterAll(() => t?.close());

  it('an owner demoted meanwhile can no longer grant the owner role, though admitted as owner', async () => {
    const second = await addMember(t, 'stale-actor', 'owner');
    const target = await addMember(t, 'stale-actor', 'member');
    // The guard admitted `second` as owner; then the first owner demotes them.
    const admittedAsOwner: Principal = { kind: 'user', id: second.userId, userId: second.userId, role: 'owner' };
    expectStatus(await t.request('PATCH', `/members/${second.userId}`, { tenant: 'stale-actor', body: { role: 'admin' } }), 200);

    await expect(tenancy.runForTenant('stale-actor', () => members.changeRole(target.userId, 'owner', admittedAsOwner))).rejects.toMatchObject({
      code: 'INSUFFICIENT_ROLE',
    });
    const list = await t.request('GET', '/members', { tenant: 'stale-actor' });
    expect(list.body.items.find((m: any) => m.userId === target.userId).role).toBe('member');

    // Positive control: while still an owner, the same call goes through.
    const third = await addMember(t, 'stale-actor', 'owner');
    const stillOwner: Principal = { kind: 'user', id: third.userId, userId: third.userId, role: 'owner' };
    const changed = await tenancy.runForTenant('stale-actor', () => members.changeRole(target.userId, 'owner', stillOwner));
    expect(changed.role).toBe('owner');
  });
});
