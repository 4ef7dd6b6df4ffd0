import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { UUID_SOURCE } from '../common/uuid';

/**
 * Pure parsing of what a request says about its tenant. No I/O here: the
 * resolver looks the result up.
 */

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/;
// Case-insensitive here: a client may send an id upper-cased; it is lower-cased below.
const UUID_ANY_CASE = new RegExp(`^${UUID_SOURCE}$`, 'i');

/** Subdomains that name the platform itself, never a tenant. Slugs may not take them. */
export const RESERVED_SLUGS = new Set(['www', 'api', 'app', 'admin', 'auth', 'static', 'assets', 'mail', 'status']);

export type TenantIdentifier = { kind: 'id'; value: string } | { kind: 'slug'; value: string };

export function sameIdentifier(a: TenantIdentifier, b: TenantIdentifier): boolean {
  return a.kind === b.kind && a.value === b.value;
}

/** `x-tenant-id: <uuid | slug>`; anything else, including two values, is a 400. */
export function parseTenantHeader(raw: string | string[] | undefined): TenantIdentifier | undefined {
  if (raw === undefined) return undefined;
  // Node joins repeated x-* headers with ", "; Fastify may hand an array.
  if (Array.isArray(raw) || raw.includes(',')) {
    throw new AppError(ErrorCode.TenantHeaderInvalid, 'x-tenant-id must name exactly one tenant');
  }
  const value = raw.trim();
  if (value === '') throw new AppError(ErrorCode.TenantHeaderInvalid, 'x-tenant-id is empty');
  if (UUID_ANY_CASE.test(value)) return { kind: 'id', value: value.toLowerCase() };
  if (SLUG_PATTERN.test(value)) return { kind: 'slug', value };
  throw new AppError(ErrorCode.TenantHeaderInvalid, 'x-tenant-id must be a tenant id (UUID) or slug');
}

/**
 * `acme.<baseDomain>` -> slug "acme". Case-insensitive, tolerant of a port and a
 * trailing dot. A host outside the base domain, the base domain itself, a
 * deeper subdomain or a reserved name is not a tenant host (undefined).
 */
export function tenantSlugFromHost(hostHeader: string | undefined, baseDomain: string | undefined): string | undefined {
  if (!hostHeader || !baseDomain) return undefined;
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) return undefined; // IPv6 literal
  host = host.replace(/:\d+$/, '').replace(/\.$/, '');
  const suffix = `.${baseDomain}`;
  if (!host.endsWith(suffix)) return undefined;
  const label = host.slice(0, -suffix.length);
  if (label.includes('.') || RESERVED_SLUGS.has(label)) return undefined;
  if (!SLUG_PATTERN.test(label)) {
    throw new AppError(ErrorCode.TenantHeaderInvalid, 'The subdomain is not a valid tenant name');
  }
  return label;
}

/**
 * The host a request was sent to, as the proxies TRUST_PROXY believes report it.
 *
 * `trustedProxies` is how many proxies in front of us TRUST_PROXY trusts for
 * this request (the socket peer, then the X-Forwarded-For entries right to
 * left, up to the first address it does not trust; 0 without TRUST_PROXY or
 * when the peer is not trusted: see config/trust-proxy.ts). Each trusted proxy appends the Host it received
 * to X-Forwarded-Host (or sets the header), so the entry written by the outermost
 * trusted one, `trustedProxies` from the right, is the host the client asked
 * for; entries to its left came from outside and are never read. With fewer
 * entries than trusted proxies (an inner proxy passed the header through) the
 * leftmost is that entry. No trusted proxy, or no (or an empty) entry: the Host header.
 *
 * Fastify's request.host takes the last entry and Express's req.host the first,
 * both trusting the peer alone: the first is wrong behind two proxies, the
 * second lets a client behind one proxy choose the host. Hence this one rule for both adapters.
 */
export function effectiveHost(
  host: string | undefined,
  forwardedHost: string | string[] | undefined,
  trustedProxies: number,
): string | undefined {
  if (trustedProxies < 1 || forwardedHost === undefined) return host;
  const entries = (Array.isArray(forwardedHost) ? forwardedHost.join(',') : forwardedHost).split(',').map((entry) => entry.trim());
  const designated = entries[Math.max(0, entries.length - trustedProxies)];
  return designated ? designated : host;
}
