import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Helpers for the bearer secrets we hand out once (API keys, invitations):
 * 256 random bits, stored only as SHA-256. A fast hash is enough for secrets
 * this long (nothing to brute-force); passwords use argon2id instead.
 */

/** 32 random bytes, base64url: 43 characters. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Constant-time comparison of two hex digests (false if either is malformed). */
export function sameDigest(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}

/** A UUID as 32 hex digits (for compact tokens) and back. */
export function uuidToHex(id: string): string {
  return id.replace(/-/g, '').toLowerCase();
}

export function hexToUuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
