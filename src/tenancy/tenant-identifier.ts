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
