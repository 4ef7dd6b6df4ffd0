import { Injectable } from '@nestjs/common';
import { eq, sql } from 'drizzle-orm';
import { PlatformTransaction, SystemDb } from '../database/system-db';
import { users } from '../database/schema';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';
import { SHARED_DATABASE } from '../config/env.schema';
import type { Tenant } from '../tenancy/tenant';

/** What callers see of a user: never the password hash. */
export interface UserProfile {
  id: string;
  email: string;
  name: string;
}

/** A user with the hash, for the places that verify passwords (sign-in, accepting an invitation). */
export interface UserCredentials extends UserProfile {
  passwordHash: string | null;
}

const profileColumns = { id: users.id, email: users.email, name: users.name };

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Users are global (a platform table): every query is a named, logged system
 * operation. Emails are stored lower-case and looked up through the
 * lower(email) unique index, so "Ann@X.io" and "ann@x.io" are one account.
 */
@Injectable()
export class UsersRepository {
  constructor(private readonly systemDb: SystemDb) {}

  /**
   * The only read of a password hash. The runtime role cannot select
   * users.password_hash (column privileges, drizzle/0006_users_password_hash_private.sql):
   * the hash of one account, named by its exact email, comes from the SECURITY
   * DEFINER function auth_password_hash(), joined here to the profile columns.
   */
  @GenerateSql({ params: [DummyValue.EMAIL] })
  findCredentialsByEmail(email: string): Promise<UserCredentials | undefined> {
    return this.systemDb.run('users.findCredentialsByEmail', async (db) => {
      const { rows } = await db.execute<{ id: string; email: string; name: string; passwordHash: string | null }>(
        sql`select ${users.id}, ${users.email}, ${users.name}, "credentials"."password_hash" as "passwordHash"
              from auth_password_hash(${normalizeEmail(email)}) as "credentials"
              join ${users} on ${users.id} = "credentials"."user_id"`,
      );
      const [row] = rows;
      return row && { id: row.id, email: row.email, name: row.name, passwordHash: row.passwordHash };
    });
  }

  /**
   * The user's copy (id, email, name; never the password hash) on the dedicated database of
   * `tenant`, which its memberships there refer to; nothing on the shared database, where the user
   * row itself is. Idempotent; written before the membership, so a membership never lacks it.
   */
  @GenerateSql({ params: [{ id: DummyValue.UUID, slug: 'sample-tenant', name: 'n', status: 'active', plan: 'free', entitlements: {}, database: 'big1' }, { id: DummyValue.UUID, email: DummyValue.EMAIL, name: DummyValue.STRING }] })
  async copyToTenantDatabase(tenant: Tenant, user: UserProfile): Promise<void> {
    if (tenant.database === SHARED_DATABASE) return;
    await this.systemDb.runWhereTenantIs('users.copyToTenantDatabase', tenant, (db) =>
      db
        .insert(users)
        .values({ id: user.id, email: user.email, name: user.name })
        // Nothing to refresh: users rows are never updated (the runtime role has no UPDATE on users, 0006).
        .onConflictDoNothing({ target: users.id }),
    );
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  findById(id: string): Promise<UserProfile | undefined> {
    return this.systemDb.run('users.findById', async (db) => {
      const [row] = await db.select(profileColumns).from(users).where(eq(users.id, id)).limit(1);
      return row;
    });
  }

  /**
   * Creates the account unless the email already has one: then nothing is
   * written and the result is undefined (ON CONFLICT on the lower(email) unique
   * index), so a concurrent creation of the same email is a clean "exists" for
   * the caller, never a 409 after other work was done. Callers decide what an
   * existing account means; no caller ever changes an existing account's password.
   * With `tx`, inside that platform transaction (the account commits, or not, with the rest).
   */
  @GenerateSql({ params: [{ email: DummyValue.EMAIL, name: DummyValue.STRING, passwordHash: DummyValue.STRING }] })
  createIfAbsent(input: { email: string; name?: string; passwordHash: string }, tx?: PlatformTransaction): Promise<UserProfile | undefined> {
    return this.systemDb.run('users.create', async (db) => {
      const [row] = await db
        .insert(users)
        .values({ email: normalizeEmail(input.email), name: input.name ?? '', passwordHash: input.passwordHash })
        .onConflictDoNothing()
        .returning(profileColumns);
      return row;
    }, tx);
  }
}
