import pg from 'pg';
import { ApiResponse, startTestApp, TestApp } from '../helpers/test-app';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { acceptInvitation, expectStatus, invite, MEMBER_PASSWORD } from './identity-fixtures';

/**
 * Multi-step writes are one transaction: a failure in the middle leaves
 * nothing behind. The failures are real ones, injected in the database by the
 * test (as superuser, on this test's own database): triggers that raise on the
 * membership or invitation of a marked email, and one that makes the insert of
 * a marked account wait on an advisory lock the test holds, so an invitation
 * can be revoked or replaced exactly between the account insert and the
 * invitation lock. Each case ends with a positive control: the same request
 * without the failure succeeds and writes everything.
 */
describe('atomic multi-step writes', () => {
  let t: TestApp;
  let su: pg.Client;
  const GATE = 4242;

  beforeAll(async () => {
    t = await startTestApp();
    su = new pg.Client({ connectionString: t.db.superuserUrl });
    await su.connect();
    // Owned by the superuser and SECURITY DEFINER: they see the rows of the transaction that fires them, whatever RLS and grants say.
    await su.query(`
      create function test_fail_marked_membership() returns trigger language plpgsql security definer set search_path = public as $$
      begin
        if exists (select 1 from users where id = new.user_id and email like 'fail-member-%') then
          raise exception 'injected failure: membership of a marked account';
        end if;
        return new;
      end $$;
      create trigger test_fail_marked_membership before insert on memberships
        for each row execute function test_fail_marked_membership();

      create function test_fail_marked_invitation() returns trigger language plpgsql security definer set search_path = public as $$
      begin
        if new.email like 'fail-invitation-%' then
          raise exception 'injected failure: invitation of a marked email';
        end if;
        return new;
      end $$;
      create trigger test_fail_marked_invitation before insert on invitations
        for each row execute function test_fail_marked_invitation();

      create function test_gate_marked_account() returns trigger language plpgsql security definer set search_path = public as $$
      begin
        if new.email like 'gated-%' then
          perform pg_advisory_xact_lock_shared(${GATE});
        end if;
        return new;
      end $$;
      create trigger test_gate_marked_account before insert on users
        for each row execute function test_gate_marked_account();
    `);
  });

  afterAll(async () => {
    await su?.end();
    await t?.close();
  });

  async function count(sql: string, params: unknown[]): Promise<number> {
    const { rows } = await su.query<{ n: number }>(`select count(*)::int as n from (${sql}) q`, params);
    return rows[0].n;
  }
  const tenantsWithSlug = (slug: string) => count('select 1 from tenants where slug = $1', [slug]);
  const accountsWithEmail = (email: string) => count('select 1 from users where lower(email) = $1', [email]);
  const membershipsOf = (email: string) => count('select 1 from memberships m join users u on u.id = m.user_id where lower(u.email) = $1', [email]);
  const invitationsOf = (email: string) => count('select 1 from invitations where email = $1', [email]);
  const totals = async () => ({
    tenants: await count('select 1 from tenants', []),
    users: await count('select 1 from users', []),
    memberships: await count('select 1 from memberships', []),
    invitations: await count('select 1 from invitations', []),
  });

  function expectInternalError(response: ApiResponse): void {
    expectStatus(response, 500, 'INTERNAL_ERROR');
    expect(response.body.requestId).toEqual(expect.any(String));
    expect(JSON.stringify(response.body)).not.toMatch(/injected|trigger|memberships|invitations/);
  }

  describe('POST /tenants with a first owner', () => {
    it('leaves no tenant and no account when the membership insert fails after both were written; the same request then succeeds', async () => {
      const slug = 'atomic-member';
      const email = 'fail-member-owner@atomic.test';
      const before = await totals();
      const failed = await t.request('POST', '/tenants', { admin: true, body: { slug, name: 'Atomic', owner: { email, password: TEST_OWNER_PASSWORD } } });
      expectInternalError(failed);
      expect(await tenantsWithSlug(slug)).toBe(0);
      expect(await accountsWithEmail(email)).toBe(0);
      expect(await totals()).toEqual(before);

      // Positive control: without the injected failure, the same slug and email give a tenant whose owner is a NEW account
      // (had the first attempt left the account, the answer would be an invitation instead of a member).
      await su.query('alter table memberships disable trigger test_fail_marked_membership');
      try {
        const created = await t.request('POST', '/tenants', { admin: true, body: { slug, name: 'Atomic', owner: { email, password: TEST_OWNER_PASSWORD } } });
        expect(created.status).toBe(201);
        expect(created.body.owner).toMatchObject({ member: { email, role: 'owner' }, invitation: null });
      } finally {
        await su.query('alter table memberships enable trigger test_fail_marked_membership');
      }
      expect(await tenantsWithSlug(slug)).toBe(1);
      expect(await accountsWithEmail(email)).toBe(1);
      expect(await membershipsOf(email)).toBe(1);
      const session = await t.login(slug, email, TEST_OWNER_PASSWORD);
      expect(session.status).toBe(200);
      expect(session.body.role).toBe('owner');
    });

    it('leaves no tenant when the owner invitation insert fails; the same request then succeeds', async () => {
      const slug = 'atomic-invite';
      const email = 'fail-invitation-owner@atomic.test';
      const before = await totals();
      const failed = await t.request('POST', '/tenants', { admin: true, body: { slug, name: 'Atomic', owner: { email } } });
      expectInternalError(failed);
      expect(await tenantsWithSlug(slug)).toBe(0);
      expect(await invitationsOf(email)).toBe(0);
      expect(await totals()).toEqual(before);

      await su.query('alter table invitations disable trigger test_fail_marked_invitation');
      try {
        const created = await t.request('POST', '/tenants', { admin: true, body: { slug, name: 'Atomic', owner: { email } } });
        expect(created.status).toBe(201);
        expect(created.body.owner).toMatchObject({ member: null, invitation: { email, role: 'owner', token: expect.any(String) } });
        const accepted = await acceptInvitation(t, slug, created.body.owner.invitation.token, MEMBER_PASSWORD);
        expect(accepted.status).toBe(200);
        expect(accepted.body.role).toBe('owner');
      } finally {
        await su.query('alter table invitations enable trigger test_fail_marked_invitation');
      }
      expect(await tenantsWithSlug(slug)).toBe(1);
      expect(await membershipsOf(email)).toBe(1);
    });

    it('is not disturbed by the injected failures for other emails (positive control of the triggers)', async () => {
      const created = await t.request('POST', '/tenants', {
        admin: true,
        body: { slug: 'atomic-plain', name: 'Atomic', owner: { email: 'plain-owner@atomic.test', password: TEST_OWNER_PASSWORD } },
      });
      expect(created.status).toBe(201);
      expect(created.body.owner.member).toMatchObject({ email: 'plain-owner@atomic.test', role: 'owner' });
    });
  });

  describe('POST /auth/accept-invitation for an email without an account', () => {
    const tenant = 'atomic-accept';
    beforeAll(async () => {
      await t.createTenant(tenant);
    });

    /** Waits until a backend of this database waits on an advisory lock: the acceptance is inside its account insert. */
    async function waitForGatedInsert(): Promise<void> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const waiting = await count(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'",
          [],
        );
        if (waiting > 0) return;
        if (Date.now() > deadline) throw new Error('the acceptance never reached its account insert');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    for (const change of ['revoked', 'replaced'] as const) {
      it(`answers 401 and leaves no account when the invitation is ${change} between the account insert and the invitation lock; a fresh invitation then works`, async () => {
        const email = `gated-${change}@atomic.test`;
        const invitation = await invite(t, tenant, email, 'member');
        await su.query('select pg_advisory_lock($1)', [GATE]);
        let pending: Promise<ApiResponse> | undefined;
        let replacement: { token: string } | undefined;
        try {
          pending = acceptInvitation(t, tenant, invitation.token, MEMBER_PASSWORD, 'Gated');
          await waitForGatedInsert();
          // The account row is written (uncommitted) and its transaction waits: the invitation changes now.
          if (change === 'revoked') {
            expect((await t.request('DELETE', `/members/invitations/${invitation.id}`, { tenant })).status).toBe(204);
          } else {
            replacement = await invite(t, tenant, email, 'viewer');
          }
        } finally {
          await su.query('select pg_advisory_unlock($1)', [GATE]);
        }
        const refused = await pending;
        expectStatus(refused, 401, 'INVITATION_INVALID');
        expect(await accountsWithEmail(email)).toBe(0);
        expect(await membershipsOf(email)).toBe(0);

        // Positive control: a usable invitation for the same email creates the account and the membership (the gate is open).
        const token = replacement?.token ?? (await invite(t, tenant, email, 'viewer')).token;
        const accepted = await acceptInvitation(t, tenant, token, MEMBER_PASSWORD, 'Gated');
        expect(accepted.status).toBe(200);
        expect(accepted.body).toMatchObject({ role: 'viewer', user: { email, name: 'Gated' } });
        expect(await accountsWithEmail(email)).toBe(1);
        expect(await membershipsOf(email)).toBe(1);
        expect((await t.login(tenant, email, MEMBER_PASSWORD)).status).toBe(200);
      });
    }

    it('leaves no account when the membership insert fails after the account was written; without the failure it succeeds', async () => {
      const email = 'fail-member-accept@atomic.test';
      const invitation = await invite(t, tenant, email, 'member');
      const failed = await acceptInvitation(t, tenant, invitation.token, MEMBER_PASSWORD);
      expectInternalError(failed);
      expect(await accountsWithEmail(email)).toBe(0);
      expect(await membershipsOf(email)).toBe(0);

      await su.query('alter table memberships disable trigger test_fail_marked_membership');
      try {
        // The invitation is still usable: the failed attempt did not mark it accepted either.
        const accepted = await acceptInvitation(t, tenant, invitation.token, MEMBER_PASSWORD);
        expect(accepted.status).toBe(200);
        expect(accepted.body.role).toBe('member');
      } finally {
        await su.query('alter table memberships enable trigger test_fail_marked_membership');
      }
      expect(await accountsWithEmail(email)).toBe(1);
      expect(await membershipsOf(email)).toBe(1);
    });
  });
});
