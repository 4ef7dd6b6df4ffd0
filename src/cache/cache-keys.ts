import { createHash, randomBytes } from 'node:crypto';

/**
 * The one place cache keys are spelled. Callers name a namespace and a key;
 * the tenant comes from the tenant context (see CacheService), never from them.
 *
 *   t:{<tenantId>}:<namespace>:<key>   tenant data (braces: a Redis Cluster hash tag,
 *                                      so one tenant's keys share a slot)
 *   t:{<tenantId>}:<namespace>:#v      the namespace's version token (see CacheService)
 *   p:<namespace>:<key>                platform data read outside any tenant (tenant lookups)
 *   t:{<tenantId>}:rate:tenant         request counters of the rate limits (src/rate-limits):
 *   t:{<tenantId>}:rate:tenant.second  the tenant's budget, its per-second cap,
 *   t:{<tenantId>}:rate:api-key.<id>   and one API key's share of it
 *   p:sign-in:<keyPart>                sign-in attempt counters (an account or an address, any tenant)
 *
 * Isolation rests on the grammar: a tenant id is made of [0-9a-f-] only (UUIDs),
 * and namespaces/keys exclude ':', '{', '}', '#' and every glob character, so
 * - no tenant key can be spelled by another tenant or by platform code ("t:" vs "p:");
 * - the purge pattern `t:{<id>}:*` ends the id with '}': `t:{abc}:*` cannot match
 *   `t:{abcd}:...`, and nothing a caller passes can widen a SCAN MATCH pattern.
 */

const TENANT_ID = /^[0-9a-f-]{1,36}$/;
const NAMESPACE = /^[a-z][a-z0-9-]{0,39}$/;
const KEY = /^[A-Za-z0-9._-]{1,320}$/;

export class InvalidCacheKeyError extends Error {
  constructor(what: string, value: string) {
    super(`invalid cache ${what}: ${JSON.stringify(value.slice(0, 80))}`);
    this.name = 'InvalidCacheKeyError';
  }
}

function check(pattern: RegExp, what: string, value: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new InvalidCacheKeyError(what, String(value));
  return value;
}

export function assertTenantId(tenantId: string): string {
  return check(TENANT_ID, 'tenant id', tenantId);
}

/** Everything of one tenant starts with this; the trailing ':' after '}' makes it exact. */
export function tenantKeyPrefix(tenantId: string): string {
  return `t:{${assertTenantId(tenantId)}}:`;
}

export function tenantKey(tenantId: string, namespace: string, key: string): string {
  return `${tenantKeyPrefix(tenantId)}${check(NAMESPACE, 'namespace', namespace)}:${check(KEY, 'key', key)}`;
}

/** '#' is outside the caller key charset, so no caller key can overwrite a version token. */
export function tenantVersionKey(tenantId: string, namespace: string): string {
  return `${tenantKeyPrefix(tenantId)}${check(NAMESPACE, 'namespace', namespace)}:#v`;
}

export const PLATFORM_KEY_PREFIX = 'p:';

export function platformKey(namespace: string, key: string): string {
  return `${PLATFORM_KEY_PREFIX}${check(NAMESPACE, 'namespace', namespace)}:${check(KEY, 'key', key)}`;
}

/** Escapes Redis glob metacharacters so a prefix matches only itself. */
export function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, '\\$&');
}

/** SCAN MATCH pattern for every key starting with `prefix`, and nothing else. */
export function prefixPattern(prefix: string): string {
  return `${escapeGlob(assertPurgePrefix(prefix))}*`;
}

/** Purges take a whole tenant prefix (`t:{<id>}:`); an empty or open-ended prefix would reach other owners. */
export function assertPurgePrefix(prefix: string): string {
  if (!/^t:\{[0-9a-f-]{1,36}\}:$/.test(prefix)) throw new InvalidCacheKeyError('purge prefix', prefix);
  return prefix;
}

/**
 * Arbitrary text (a tag, a search term) as a key part: base64url cannot carry
 * a delimiter or a glob character, and distinct inputs stay distinct.
 */
export function keyPart(value: string): string {
  const encoded = Buffer.from(value, 'utf8').toString('base64url');
  if (encoded.length <= MAX_PLAIN_PART) return encoded || '_';
  // Long values (50 CJK characters are 200 base64url characters) would push a composed key past
  // the length limit; a digest keeps it bounded. '.' never occurs in base64url, so "h.<digest>"
  // cannot equal the plain encoding of another value.
  return `h.${createHash('sha256').update(value, 'utf8').digest('base64url')}`;
}

const MAX_PLAIN_PART = 64;

/** A fresh namespace version: random, so two writers never produce the same token. */
export function newVersionToken(): string {
  return randomBytes(9).toString('base64url');
}

/** What a request counter is kept for: the tenant's whole budget, or one API key's share of it. */
export type RateLimitSubject = { kind: 'tenant' } | { kind: 'tenant-second' } | { kind: 'api-key'; keyId: string };

/** The counter of one tenant's requests (per minute, per second, or of one of its API keys), under that tenant's prefix. */
export function rateLimitKey(tenantId: string, subject: RateLimitSubject): string {
  const key = subject.kind === 'tenant' ? 'tenant' : subject.kind === 'tenant-second' ? 'tenant.second' : `api-key.${subject.keyId}`;
  return tenantKey(tenantId, 'rate', key);
}

/**
 * A sign-in throttle counter. Its key ("account:<email>", "address:<ip>", ...) holds characters the
 * key grammar refuses, so it is carried as a keyPart. Platform-wide: an account signs in to many tenants.
 */
export function signInThrottleKey(throttleKey: string): string {
  return platformKey('sign-in', keyPart(throttleKey));
}
