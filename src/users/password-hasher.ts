import { Injectable, OnModuleInit } from '@nestjs/common';
import { hash, Options, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';

/**
 * argon2id with the OWASP-recommended minimum (19 MiB, 2 passes, 1 lane), the
 * library's own defaults spelled out so an upgrade cannot silently change them.
 * `algorithm: 2` is Argon2id: the package declares it as a const enum, which
 * is erased at compile time and not exported at runtime.
 */
const OPTIONS: Options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 };

/** Longer inputs are refused by validation; the cap keeps hashing cost bounded. */
export const MAX_PASSWORD_LENGTH = 200;
export const MIN_PASSWORD_LENGTH = 10;

@Injectable()
export class PasswordHasher implements OnModuleInit {
  /** A real hash of a random password, verified when there is no user, so "no such user" costs the same time as "wrong password". */
  private dummyHash?: string;

  async onModuleInit(): Promise<void> {
    this.dummyHash = await hash(randomBytes(32).toString('base64url'), OPTIONS);
  }

  hash(password: string): Promise<string> {
    return hash(password, OPTIONS);
  }

  /** False for a wrong password and for a hash that cannot be parsed; never throws. */
  async verify(passwordHash: string | null | undefined, password: string): Promise<boolean> {
    if (!passwordHash) {
      await this.burn(password);
      return false;
    }
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }

  /** Spends the time of one verification and answers nothing. */
  private async burn(password: string): Promise<void> {
    this.dummyHash ??= await hash(randomBytes(32).toString('base64url'), OPTIONS);
    await verify(this.dummyHash, password).catch(() => false);
  }
}
