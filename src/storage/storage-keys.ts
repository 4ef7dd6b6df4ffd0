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
