import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { Readable } from 'node:stream';
import { TenantContext } from '../tenancy/tenant-context';
import { PresignOptions, PutOptions, StorageDriver, StorageObjectMissingError, StoredObject, StorageUnavailableError } from './storage-driver';
import {
  assertExportArchiveKey,
  assertObjectKey,
  assertOffboardingExportKey,
  documentStoragePrefix,
  exportArchiveKey,
  exportsStoragePrefix,
  InvalidStorageKeyError,
  newDocumentObjectKey,
  offboardingExportKey,
  tenantObjectKey,
  tenantStoragePrefix,
} from './storage-keys';

/** One object of the current tenant, by its key below the tenant's prefix (what an export archive names it). */
export interface TenantFile {
  relativeKey: string;
  size: number;
}

/**
 * Tenant-aware file storage. The tenant comes from TenantContext; keys are
 * built by storage-keys.ts and every key handed back in (from a metadata row)
 * must lie under the current tenant's prefix before the driver sees it, so a
 * mixed-up row cannot reach another tenant's object.
 */
export type StorageOperation = 'put' | 'open' | 'delete' | 'list' | 'presign';
export type StorageErrorKind = 'unavailable' | 'missing_object';

/** Storage failures since start, by operation and kind (exported as storage_errors_total). */
export interface StorageErrorCount {
  operation: StorageOperation;
  kind: StorageErrorKind;
  count: number;
}

export class StorageService implements OnApplicationShutdown {
  private readonly logger = new Logger('Storage');
  /** Keyed `operation:kind`. Only the backend's own failures: a client aborting its upload is not one. */
  private readonly errorsById = new Map<string, StorageErrorCount>();

  constructor(private readonly driver: StorageDriver) {}

  get driverName(): StorageDriver['name'] {
    return this.driver.name;
  }

  /** A fresh, server-generated key for an attachment of documentId. */
  newDocumentObjectKey(documentId: string): string {
    return newDocumentObjectKey(TenantContext.currentId(), documentId);
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<void> {
    return this.counted('put', () => this.driver.put(this.ownKey(key), body, options));
  }

  async open(key: string): Promise<{ body: Readable; size: number }> {
    try {
      return await this.counted('open', () => this.driver.open(this.ownKey(key)));
    } catch (error) {
      // Uploads commit the row after the object, so this is an invariant breach worth a loud log line.
      if (error instanceof StorageObjectMissingError) this.logger.error(`metadata points at a missing object: ${key}`);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    return this.counted('delete', () => this.driver.delete([this.ownKey(key)]));
  }

  /**
   * For cleanup paths where the metadata is already gone or never written: a
   * failure leaves an orphan object (invisible to users, costs only space) and
   * is logged with its key for a sweep; it never fails the request.
   */
  async deleteQuietly(key: string): Promise<void> {
    try {
      await this.delete(key);
    } catch (error) {
      this.logger.warn(`could not delete object ${key}; if it exists it is an orphan (${(error as Error).message})`);
    }
  }

  async presignGet(key: string, options: PresignOptions): Promise<string | undefined> {
    return this.counted('presign', () => this.driver.presignGet(this.ownKey(key), options));
  }

  /** Objects of the current tenant: prefix `tenants/<id>/`, trailing slash included. */
  listTenantObjects(): AsyncIterable<StoredObject> {
    // The prefix is read now, in the caller's tenant context, not when iteration starts.
    return this.countedIteration('list', this.driver.list(tenantStoragePrefix(TenantContext.currentId())));
  }

  /** How many objects the current tenant has (the verification after deleteTenantObjects: offboarding). */
  async countTenantObjects(): Promise<number> {
    let count = 0;
    for await (const _object of this.listTenantObjects()) count++;
    return count;
  }

  async deleteTenantObjects(): Promise<number> {
    return this.counted('delete', () => this.driver.deleteByPrefix(tenantStoragePrefix(TenantContext.currentId())));
  }

  /**
   * Every object of one document (`tenants/<id>/documents/<documentId>/`), once its
   * rows are gone. Best effort like deleteQuietly: a failure leaves orphans, logged.
   */
  async removeDocumentObjects(documentId: string): Promise<number> {
    const prefix = documentStoragePrefix(TenantContext.currentId(), documentId);
    try {
      return await this.counted('delete', () => this.driver.deleteByPrefix(prefix));
    } catch (error) {
      this.logger.warn(`orphan objects may be left under ${prefix} (${(error as Error).message})`);
      return 0;
    }
  }

  // ------------------------------------------------------------ exports (src/exports)

  /** Where the current tenant's export `exportId` is stored (inside its prefix). */
  exportArchiveKey(exportId: string): string {
    return exportArchiveKey(TenantContext.currentId(), exportId);
  }

  /** Stores an export archive of the current tenant; like every put, a failed one leaves no object. */
  async putExportArchive(exportId: string, body: Readable): Promise<string> {
    const key = this.exportArchiveKey(exportId);
    await this.counted('put', () => this.driver.put(key, body, { contentType: 'application/gzip' }));
    return key;
  }

  /** Opens one of the current tenant's export archives (a key recorded on its exports row). */
  async openExportArchive(key: string): Promise<{ body: Readable; size: number }> {
    assertExportArchiveKey(key);
    if (!key.startsWith(exportsStoragePrefix(TenantContext.currentId()))) throw new InvalidStorageKeyError('key of another tenant', key);
    return this.counted('open', () => this.driver.open(key));
  }

  /** Deletes one of the current tenant's export archives (a key recorded on its exports row); a missing object is not an error. */
  async deleteExportArchive(key: string): Promise<void> {
    assertExportArchiveKey(key);
    if (!key.startsWith(exportsStoragePrefix(TenantContext.currentId()))) throw new InvalidStorageKeyError('key of another tenant', key);
    await this.counted('delete', () => this.driver.delete([key]));
  }

  /**
   * Every object of the current tenant except its export archives (what an export packs: an
   * archive inside an archive would grow each export by the previous ones).
   */
  async *listTenantFiles(): AsyncIterable<TenantFile> {
    const prefix = tenantStoragePrefix(TenantContext.currentId());
    const exports = exportsStoragePrefix(TenantContext.currentId());
    for await (const object of this.listTenantObjects()) {
      if (object.key.startsWith(exports)) continue;
      yield { relativeKey: object.key.slice(prefix.length), size: object.size };
    }
  }

  /** Opens an object of the current tenant by its key below the prefix. */
  async openTenantFile(relativeKey: string): Promise<{ body: Readable; size: number }> {
    const key = tenantObjectKey(TenantContext.currentId(), relativeKey);
    return this.counted('open', () => this.driver.open(key));
  }

  /** Writes an object of the current tenant by its key below the prefix (an import's files). */
  async putTenantFile(relativeKey: string, body: Readable, contentLength: number): Promise<void> {
    const key = tenantObjectKey(TenantContext.currentId(), relativeKey);
    return this.counted('put', () => this.driver.put(key, body, { contentType: 'application/octet-stream', contentLength }));
  }

  /** Deletes objects of the current tenant by their keys below the prefix (undoing a failed import's files). */
  async deleteTenantFiles(relativeKeys: readonly string[]): Promise<void> {
    const prefix = TenantContext.currentId();
    const keys = relativeKeys.map((relative) => tenantObjectKey(prefix, relative));
    if (keys.length) await this.counted('delete', () => this.driver.delete(keys));
  }

  /**
   * The archive an offboarding exported before deleting the tenant: a platform-level key (no tenant
   * context: the tenant is being deleted), outside the tenant's prefix, so it survives the deletion.
   */
  async putOffboardingExport(tenantId: string, deletionId: string, body: Readable): Promise<string> {
    const key = offboardingExportKey(tenantId, deletionId);
    await this.counted('put', () => this.driver.put(key, body, { contentType: 'application/gzip' }));
    return key;
  }

  async openOffboardingExport(key: string): Promise<{ body: Readable; size: number }> {
    assertOffboardingExportKey(key);
    return this.counted('open', () => this.driver.open(key));
  }

  /** Failure counts since start (GET /metrics); only the combinations that happened. */
  errorCounts(): StorageErrorCount[] {
    return [...this.errorsById.values()].map((entry) => ({ ...entry }));
  }

  /** Whether the backend answers (readiness); not counted as a storage error: no request failed. */
  ping(signal: AbortSignal): Promise<void> {
    return this.driver.ping(signal);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.driver.close();
  }

  private async counted<T>(operation: StorageOperation, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.countError(operation, error);
      throw error;
    }
  }

  private async *countedIteration<T>(operation: StorageOperation, items: AsyncIterable<T>): AsyncIterable<T> {
    try {
      yield* items;
    } catch (error) {
      this.countError(operation, error);
      throw error;
    }
  }

  private countError(operation: StorageOperation, error: unknown): void {
    const kind: StorageErrorKind | undefined =
      error instanceof StorageUnavailableError ? 'unavailable' : error instanceof StorageObjectMissingError ? 'missing_object' : undefined;
    if (!kind) return;
    const id = `${operation}:${kind}`;
    const entry = this.errorsById.get(id) ?? { operation, kind, count: 0 };
    entry.count++;
    this.errorsById.set(id, entry);
  }

  private ownKey(key: string): string {
    assertObjectKey(key);
    if (!key.startsWith(tenantStoragePrefix(TenantContext.currentId()))) throw new InvalidStorageKeyError('key of another tenant', key);
    return key;
  }
}
