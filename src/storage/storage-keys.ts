import { randomUUID } from 'node:crypto';
import { UUID_SOURCE } from '../common/uuid';

/**
 * The one place object keys are spelled. Every key is built here from ids the
 * server owns; a user's file name never becomes part of a key.
 *
 *   tenants/<tenantId>/                                  everything of a tenant
 *   tenants/<tenantId>/documents/<documentId>/           a document's attachments
 *   tenants/<tenantId>/documents/<documentId>/<uuid>     one attachment (server-generated uuid)
 *
 * Prefixes always end with '/': `tenants/abc/` cannot match `tenants/abcd/...`.
 */

const ID = /^[0-9a-f-]{1,36}$/;
const OBJECT_KEY = new RegExp(`^tenants/[0-9a-f-]{1,36}/documents/[0-9a-f-]{1,36}/${UUID_SOURCE}$`);

export class InvalidStorageKeyError extends Error {
  constructor(what: string, value: string) {
    super(`invalid storage ${what}: ${JSON.stringify(String(value).slice(0, 120))}`);
    this.name = 'InvalidStorageKeyError';
  }
}

function id(what: string, value: string): string {
  if (typeof value !== 'string' || !ID.test(value)) throw new InvalidStorageKeyError(what, value);
  return value;
}

export function tenantStoragePrefix(tenantId: string): string {
  return `tenants/${id('tenant id', tenantId)}/`;
}

export function documentStoragePrefix(tenantId: string, documentId: string): string {
  return `${tenantStoragePrefix(tenantId)}documents/${id('document id', documentId)}/`;
}

export function newDocumentObjectKey(tenantId: string, documentId: string): string {
  return `${documentStoragePrefix(tenantId, documentId)}${randomUUID()}`;
}

/** A full attachment key of exactly the shape above (checked before any storage call that takes a key). */
export function assertObjectKey(key: string): string {
  if (typeof key !== 'string' || !OBJECT_KEY.test(key)) throw new InvalidStorageKeyError('object key', key);
  return key;
}

/** Listing/deleting by prefix: only the prefixes built above, each ending with '/'. */
export function assertPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !/^tenants\/[0-9a-f-]{1,36}\/(documents\/[0-9a-f-]{1,36}\/)?$/.test(prefix)) {
    throw new InvalidStorageKeyError('prefix', prefix);
  }
  return prefix;
}

/*
 * Exports (src/exports, README "Export and import"):
 *
 *   tenants/<tenantId>/exports/<exportId>.tar.gz          a tenant's export archive (inside its prefix:
 *                                                          deleted with the tenant, counted as its object)
 *   offboarding-exports/<tenantId>/<deletionId>.tar.gz    the archive an offboarding made before deleting
 *                                                          the tenant: outside every tenant prefix, so the
 *                                                          deletion of the prefix leaves it for the operator
 */

const EXPORT_ARCHIVE_KEY = new RegExp(`^tenants/${UUID_SOURCE}/exports/${UUID_SOURCE}\\.tar\\.gz$`);
const OFFBOARDING_EXPORT_KEY = new RegExp(`^offboarding-exports/${UUID_SOURCE}/${UUID_SOURCE}\\.tar\\.gz$`);
/** A key below a tenant's prefix as an archive names it: safe segments only (no '..', no leading dot, no empty segment). */
const RELATIVE_KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}){0,15}$/;

export function exportsStoragePrefix(tenantId: string): string {
  return `${tenantStoragePrefix(tenantId)}exports/`;
}

export function exportArchiveKey(tenantId: string, exportId: string): string {
  return `${exportsStoragePrefix(tenantId)}${id('export id', exportId)}.tar.gz`;
}

export function assertExportArchiveKey(key: string): string {
  if (typeof key !== 'string' || !EXPORT_ARCHIVE_KEY.test(key)) throw new InvalidStorageKeyError('export archive key', key);
  return key;
}

export function offboardingExportKey(tenantId: string, deletionId: string): string {
  return `offboarding-exports/${id('tenant id', tenantId)}/${id('deletion id', deletionId)}.tar.gz`;
}

export function assertOffboardingExportKey(key: string): string {
  if (typeof key !== 'string' || !OFFBOARDING_EXPORT_KEY.test(key)) throw new InvalidStorageKeyError('offboarding export key', key);
  return key;
}

/** `relative` below the tenant's prefix, checked: an archive's file names never leave the prefix. */
export function tenantObjectKey(tenantId: string, relative: string): string {
  if (typeof relative !== 'string' || !RELATIVE_KEY.test(relative)) throw new InvalidStorageKeyError('relative key', relative);
  return `${tenantStoragePrefix(tenantId)}${relative}`;
}

export function isRelativeObjectKey(relative: string): boolean {
  return typeof relative === 'string' && RELATIVE_KEY.test(relative);
}
