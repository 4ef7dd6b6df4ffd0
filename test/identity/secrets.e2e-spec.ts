import pg from 'pg';
import { ApiResponse, startTestApp, TestApp } from '../helpers/test-app';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';

/**
 * Runs every identity flow (successes and failures) with the most verbose log
 * level, records every response and every line written to stdout/stderr, then
 * looks for passwords, password hashes, API keys (and their secret part),
 * invitation tokens and the stored hashes of both. The only allowed
 * appearances: the API key in the response that creates it, the invitation
 * token in the response that creates it.
 */
describe('no secret in any response or log line', () => {
  let t: TestApp;
  const logs: string[] = [];
  const responses: Array<{ label: string; text: string; allowed: string[] }> = [];
  const passwords = [TEST_OWNER_PASSWORD, 'second-owner-pass-1', 'member-secret-pass-1', 'invitee-secret-pass-1', 'wrong-guess-pass-1'];
  const issued: string[] = [];
  const writes = { out: process.stdout.write, err: process.stderr.write };
  const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const originalConsole = consoleMethods.map((m) => console[m]);

  function capture(): void {
    const record = (chunk: unknown) => {
      logs.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return true;
    };
    process.stdout.write = record as typeof process.stdout.write;
    process.stderr.write = record as typeof process.stderr.write;
    for (const m of consoleMethods) console[m] = (...args: unknown[]) => void logs.push(args.map(String).join(' '));
  }

  function release(): void {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
    consoleMethods.forEach((m, i) => (console[m] = originalConsole[i]));
  }

  async function call(label: string, method: string, path: string, options: Parameters<TestApp['request']>[2] = {}, allowed: string[] = []): Promise<ApiResponse> {
    const response = await t.request(method, path, options);
    const headers = [...response.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
    responses.push({ label: `${label} (${response.status})`, text: `${headers}\n${JSON.stringify(response.body)}`, allowed });
    return response;
  }

  beforeAll(async () => {
    capture();
    try {
      t = await startTestApp({ LOG_LEVEL: 'verbose' });
      const tenant = await t.createTenant('secrets-acme');
      const T = tenant.slug;
      await call('create second tenant with owner password', 'POST', '/tenants', {
        admin: true,
        body: { slug: 'secrets-globex', name: 'Globex', owner: { email: 'second@owner.test', password: 'second-owner-pass-1' } },
      });
      await call('login ok', 'POST', '/auth/login', { tenant: T, auth: false, body: { email: `owner@${T}.test`, password: TEST_OWNER_PASSWORD } });
      await call('login wrong password', 'POST', '/auth/login', { tenant: T, auth: false, body: { email: `owner@${T}.test`, password: 'wrong-guess-pass-1' } });
      await call('login unknown', 'POST', '/auth/login', { tenant: T, auth: false, body: { email: 'ghost@x.test', password: 'wrong-guess-pass-1' } });
      await call('login bad body', 'POST', '/auth/login', { tenant: T, auth: false, body: { email: 'not-an-email', password: 'wrong-guess-pass-1', extra: 'wrong-guess-pass-1' } });
      await call('login too long', 'POST', '/auth/login', { tenant: T, auth: false, body: { email: `owner@${T}.test`, password: 'x'.repeat(500) } });
      // An admin can no longer send a password for a member: refused by validation, never echoed.
      await call('add member with password', 'POST', '/members', { tenant: T, body: { email: 'mia@people.test', role: 'member', password: 'member-secret-pass-1' } });
      await call('add member, password too short', 'POST', '/members', { tenant: T, body: { email: 'short@people.test', role: 'member', password: 'short' } });
      await call('add existing with password', 'POST', '/members', { tenant: T, body: { email: 'second@owner.test', role: 'member', password: 'member-secret-pass-1' } });
      const miaInvite = await call('invite mia', 'POST', '/members', { tenant: T, body: { email: 'mia@people.test', role: 'member' } });
      issued.push(miaInvite.body.invitation.token);
      responses[responses.length - 1].allowed.push(miaInvite.body.invitation.token);
      await call('accept mia', 'POST', '/auth/accept-invitation', { tenant: T, auth: false, body: { token: miaInvite.body.invitation.token, password: 'member-secret-pass-1' } });
      const key = await call('create key', 'POST', '/api-keys', { tenant: T, body: { name: 'deploy', role: 'admin' } });
      issued.push(key.body.key, key.body.key.slice(-43));
      responses[responses.length - 1].allowed.push(key.body.key, key.body.key.slice(-43));
      await call('use key', 'GET', '/me', { tenant: T, auth: key.body.key });
      await call('list keys', 'GET', '/api-keys', { tenant: T });
      await call('wrong key', 'GET', '/me', { tenant: T, auth: `${key.body.key.slice(0, -3)}abc` });
      const invite = await call('invite', 'POST', '/members', { tenant: T, body: { email: 'ivy@people.test', role: 'viewer' } });
      issued.push(invite.body.invitation.token);
      responses[responses.length - 1].allowed.push(invite.body.invitation.token);
      await call('list invitations', 'GET', '/members/invitations', { tenant: T });
      await call('accept', 'POST', '/auth/accept-invitation', { tenant: T, auth: false, body: { token: invite.body.invitation.token, password: 'invitee-secret-pass-1' } });
      await call('accept again', 'POST', '/auth/accept-invitation', { tenant: T, auth: false, body: { token: invite.body.invitation.token, password: 'invitee-secret-pass-1' } });
      // An existing account (globex's owner) invited to acme: accepted only with its own password.
      const existingInvite = await call('invite existing', 'POST', '/members', { tenant: T, body: { email: 'second@owner.test', role: 'viewer' } });
      issued.push(existingInvite.body.invitation.token);
      responses[responses.length - 1].allowed.push(existingInvite.body.invitation.token);
      const acceptExisting = (label: string, password: string) =>
        call(label, 'POST', '/auth/accept-invitation', { tenant: T, auth: false, body: { token: existingInvite.body.invitation.token, password } });
      await acceptExisting('accept existing, wrong password', 'wrong-guess-pass-1');
      await acceptExisting('accept existing', 'second-owner-pass-1');
      await call('members', 'GET', '/members', { tenant: T });
      await call('me', 'GET', '/me', { tenant: T });
      await call('switch', 'POST', '/auth/switch-tenant', { tenant: T, body: { tenant: 'secrets-globex' } });
      await call('tenant as admin', 'GET', '/tenants/secrets-acme', { admin: true });
      await call('revoke key', 'DELETE', `/api-keys/${key.body.id}`, { tenant: T });
      await call('revoked key', 'GET', '/me', { tenant: T, auth: key.body.key });
    } finally {
      release();
    }
  });
  afterAll(() => t?.close());

  async function storedHashes(): Promise<string[]> {
    const client = new pg.Client({ connectionString: t.db.superuserUrl });
    await client.connect();
    try {
      const users = await client.query<{ password_hash: string }>('select password_hash from users where password_hash is not null');
      const keys = await client.query<{ secret_hash: string }>('select secret_hash from api_keys');
      const invitations = await client.query<{ token_hash: string }>('select token_hash from invitations');
      return [...users.rows.map((r) => r.password_hash), ...keys.rows.map((r) => r.secret_hash), ...invitations.rows.map((r) => r.token_hash)];
    } finally {
      await client.end();
    }
  }

  const findIn = (text: string, secrets: string[]) => secrets.filter((s) => text.includes(s));

  it('recorded the flows and their logs (positive control)', async () => {
    expect(responses.length).toBeGreaterThan(20);
    expect(logs.join('')).toContain('system operation=users.create');
    const hashes = await storedHashes();
    // Four accounts with a password (argon2id), one API key, three invitations.
    expect(hashes.filter((h) => h.startsWith('$argon2id$'))).toHaveLength(4);
    expect(hashes).toHaveLength(8);
    expect(issued).toHaveLength(5);
    // The scanner finds what it looks for.
    expect(findIn(`{"x":"${passwords[1]}"}`, passwords)).toEqual([passwords[1]]);
    // The flows did what they should (so the scan covers successes and failures).
    const statuses = responses.map((r) => r.label);
    for (const expected of [
      'login ok (200)',
      'login wrong password (401)',
      'create key (201)',
      'accept (200)',
      'accept again (401)',
      'revoked key (401)',
      'add member with password (400)',
      'add existing with password (400)',
      'accept mia (200)',
      'accept existing, wrong password (401)',
      'accept existing (200)',
    ]) {
      expect(statuses).toContain(expected);
    }
  });

  it('no response carries a password, a hash or a secret (except the one it hands out)', async () => {
    const secrets = [...passwords, ...(await storedHashes()), ...issued];
    const leaks = responses.flatMap((r) => findIn(r.text, secrets.filter((s) => !r.allowed.includes(s))).map((s) => `${r.label}: ${s.slice(0, 12)}...`));
    expect(leaks).toEqual([]);
  });

  it('no log line carries a password, a hash, a key or an invitation token', async () => {
    const secrets = [...passwords, ...(await storedHashes()), ...issued];
    expect(findIn(logs.join(''), secrets).map((s) => `${s.slice(0, 12)}...`)).toEqual([]);
  });

  it('the creating responses did hand the secret out once (positive control for the exceptions)', () => {
    const allowedShown = responses.filter((r) => r.allowed.length > 0);
    expect(allowedShown.map((r) => r.label)).toEqual(['invite mia (201)', 'create key (201)', 'invite (201)', 'invite existing (201)']);
    for (const r of allowedShown) expect(findIn(r.text, r.allowed).length).toBeGreaterThan(0);
  });
});
