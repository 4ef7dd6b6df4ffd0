import { Logger } from '@nestjs/common';
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { createPool } from '../../src/database/pg/pool';
import { memberships, users } from '../../src/database/schema';
import { SystemDb } from '../../src/database/system-db';
import { createTenantDb, TenantDb } from '../../src/database/tenant-db';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { UsersRepository } from '../../src/users/users.repository';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';

/**
 * users.password_hash is out of the runtime role's reach (drizzle/0006_users_password_hash_private.sql):
 * column privileges refuse it to every query of app_user, raw or through TenantDb,
 * and the SECURITY DEFINER function auth_password_hash() gives the hash of one
 * account named by its exact email, the one path sign-in uses. Each refusal has
 * its positive control beside it.
 */
describe('password hashes and the runtime role', () => {
  let db: TestDatabase;
  let superuser: pg.Client;
  let app: pg.Client;
  let pool: pg.Pool;
  let tenantDb: TenantDb;
  let repository: UsersRepository;
  let acme: Tenant;
  const accounts: Record<'ann' | 'bob', { id: string; email: string; hash: string }> = {} as never;

  const as = <T>(tenant: Tenant, fn: () => PromiseLike<T>): Promise<T> => TenantContext.run({ tenant }, async () => await fn());

  /** The SQLSTATE of a rejection: pg's error, or the one drizzle wraps in `cause`. */
  async function sqlState(promise: PromiseLike<unknown>): Promise<string | undefined> {
    try {
      await promise;
    } catch (error) {
      const e = error as { code?: string; cause?: { code?: string } };
      return e.code ?? e.cause?.code ?? `not a database error: ${String(error)}`;
    }
    return 'no error';
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    superuser = new pg.Client({ connectionString: db.superuserUrl });
    await superuser.connect();
    const { rows: tenantRows } = await superuser.query(
      `insert into tenants (slug, name) values ('hash-acme', 'Acme'), ('hash-globex', 'Globex') returning id, slug, name, status, plan`,
    );
    acme = tenantRows[0];
    const globex = tenantRows[1];
    for (const [key, tenant] of [['ann', acme], ['bob', globex]] as const) {
      const email = `${key}@${tenant.slug}.test`;
      const hash = `$argon2id$v=19$m=19456,t=2,p=1$fake-salt-of-${key}$fake-hash-of-${key}`;
      const { rows } = await superuser.query('insert into users (email, name, password_hash) values ($1, $2, $3) returning id', [email, key, hash]);
      await superuser.query(`insert into memberships (tenant_id, user_id, role) values ($1, $2, 'member')`, [tenant.id, rows[0].id]);
      accounts[key] = { id: rows[0].id, email, hash };
    }
    app = new pg.Client({ connectionString: db.appUrl });
    await app.connect();
    pool = createPool({ url: db.appUrl, max: 2, statementTimeoutMs: 5000, applicationName: 'password-hash' });
    tenantDb = createTenantDb(pool);
    repository = new UsersRepository(new SystemDb(pool));
  });

  afterAll(async () => {
    await app?.end();
    await pool?.end();
    await superuser?.end();
    await db?.drop();
  });

  describe('raw SQL as app_user', () => {
    it('refuses password_hash in a select list, in select *, in a WHERE and in RETURNING; the other columns are readable', async () => {
      // Positive control: the profile columns of every user are readable (platform table, no RLS).
      const { rows } = await app.query('select id, email, name, created_at, updated_at from users order by email');
      expect(rows.map((r) => r.email)).toEqual([accounts.ann.email, accounts.bob.email]);

      expect(await sqlState(app.query('select password_hash from users'))).toBe('42501');
      expect(await sqlState(app.query('select * from users'))).toBe('42501');
      expect(await sqlState(app.query('select u from users u'))).toBe('42501');
      // Not even as a filter: no guessing a hash prefix by counting rows.
      expect(await sqlState(app.query(`select id from users where password_hash like '$argon2id$%'`))).toBe('42501');
    });

    it('inserts an account with its hash and returns profile columns only; RETURNING the hash or updating it is refused', async () => {
      // Positive control: account creation as UsersRepository.createIfAbsent does it.
      const { rows } = await app.query(`insert into users (email, name, password_hash) values ('new@hash.test', 'New', 'h') returning id, email, name`);
      expect(rows).toEqual([{ id: expect.any(String), email: 'new@hash.test', name: 'New' }]);
      expect(await sqlState(app.query(`insert into users (email, password_hash) values ('other@hash.test', 'h') returning password_hash`))).toBe('42501');
      expect(await sqlState(app.query(`insert into users (email, password_hash) values ('other2@hash.test', 'h') returning *`))).toBe('42501');
      expect(await sqlState(app.query(`update users set password_hash = 'known' where id = $1`, [accounts.ann.id]))).toBe('42501');
      expect(await sqlState(app.query(`update users set name = 'x' where id = $1`, [accounts.ann.id]))).toBe('42501');
      const { rows: stored } = await superuser.query('select password_hash from users where id = $1', [accounts.ann.id]);
      expect(stored[0].password_hash).toBe(accounts.ann.hash);
    });
  });

  describe('TenantDb joins to users', () => {
    it('a join with a wrong ON clause reaches every user, but selecting users.passwordHash through it is permission denied', async () => {
      // Positive control: the broken join (ON true) does reach every user's email, ...
      const emails = await as(acme, () => tenantDb.select({ email: users.email }).from(memberships).leftJoin(users, sql`true`));
      const { rows: all } = await superuser.query('select email from users');
      expect(emails.map((r) => r.email).sort()).toEqual(all.map((r) => r.email).sort());
      expect(emails.map((r) => r.email)).toContain(accounts.bob.email);
      // ... but not their hashes.
      expect(await sqlState(as(acme, () => tenantDb.select({ hash: users.passwordHash }).from(memberships).leftJoin(users, sql`true`)))).toBe('42501');
    });

    it('a select() of every column of a join with users is permission denied; explicit profile columns work', async () => {
      const member = await as(acme, () =>
        tenantDb.select({ email: users.email, role: memberships.role }).from(memberships).innerJoin(users, eq(users.id, memberships.userId)),
      );
      expect(member).toEqual([{ email: accounts.ann.email, role: 'member' }]);
      expect(await sqlState(as(acme, () => tenantDb.select().from(memberships).innerJoin(users, eq(users.id, memberships.userId))))).toBe('42501');
    });
  });

  describe('auth_password_hash(email), the one path to a hash', () => {
    const call = (email: string | null) => app.query('select user_id, password_hash from auth_password_hash($1)', [email]);

    it('returns the id and hash of the account with that email (any case), and nothing else', async () => {
      expect((await call(accounts.ann.email)).rows).toEqual([{ user_id: accounts.ann.id, password_hash: accounts.ann.hash }]);
      expect((await call(accounts.bob.email.toUpperCase())).rows).toEqual([{ user_id: accounts.bob.id, password_hash: accounts.bob.hash }]);
    });

    it('returns no row for an unknown email, an empty string, NULL, or a LIKE pattern (no wildcard is interpreted)', async () => {
      // Positive control for each pattern: the account it would match exists (previous test).
      for (const probe of ['nobody@hash-acme.test', '', null, '%', '%@%', 'ann@%', '_nn@hash-acme.test', `${accounts.ann.email}%`, '.*']) {
        expect({ probe, rows: (await call(probe)).rows }).toEqual({ probe, rows: [] });
      }
    });

    it('is not callable by a role without the grant (EXECUTE revoked from PUBLIC)', async () => {
      const role = `hash_probe_${process.pid}`;
      // A role that may use the schema (as app_user may) but got no EXECUTE on the function.
      await superuser.query(`create role ${role}; grant usage on schema public to ${role}`);
      try {
        await superuser.query(`begin; set local role ${role}`);
        expect(await sqlState(superuser.query(`select * from auth_password_hash($1)`, [accounts.ann.email]))).toBe('42501');
        await superuser.query('rollback');
        // Positive control: the same call as app_user.
        await superuser.query('begin; set local role app_user');
        expect((await superuser.query(`select user_id from auth_password_hash($1)`, [accounts.ann.email])).rows).toEqual([{ user_id: accounts.ann.id }]);
        await superuser.query('rollback');
      } finally {
        await superuser.query('rollback').catch(() => undefined);
        await superuser.query(`revoke usage on schema public from ${role}; drop role ${role}`);
      }
    });
  });

  describe('UsersRepository.findCredentialsByEmail (sign-in)', () => {
    it('reads the profile and the hash through the function, as a logged system operation', async () => {
      const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
      try {
        expect(await repository.findCredentialsByEmail(` ${accounts.ann.email.toUpperCase()} `)).toEqual({
          id: accounts.ann.id,
          email: accounts.ann.email,
          name: 'ann',
          passwordHash: accounts.ann.hash,
        });
        expect(log.mock.calls.map((c) => String(c[0]))).toContain('system operation=users.findCredentialsByEmail');
        expect(await repository.findCredentialsByEmail('nobody@hash-acme.test')).toBeUndefined();
        expect(await repository.findCredentialsByEmail('%')).toBeUndefined();
      } finally {
        log.mockRestore();
      }
    });

    it('finds an account created by createIfAbsent with the hash it was given', async () => {
      const created = await repository.createIfAbsent({ email: 'Created@Hash.test', name: 'C', passwordHash: 'hash-of-created' });
      expect(created).toEqual({ id: expect.any(String), email: 'created@hash.test', name: 'C' });
      expect(await repository.createIfAbsent({ email: 'created@hash.test', passwordHash: 'other' })).toBeUndefined();
      expect(await repository.findCredentialsByEmail('created@hash.test')).toEqual({ ...created, passwordHash: 'hash-of-created' });
    });
  });
});
