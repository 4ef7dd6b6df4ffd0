import { Logger } from '@nestjs/common';
import { Readable } from 'node:stream';
import { TenantContext } from '../tenancy/tenant-context';
import { StorageDriver, StorageObjectMissingError, StorageUnavailableError } from './storage-driver';
import { StorageService } from './storage.service';
import { UNLIMITED_ENTITLEMENTS } from '../../test/helpers/tenants';

const TENANT_ID = '00000000-0000-4000-8000-000000000001';
const inTenant = <T>(fn: () => Promise<T>) =>
  TenantContext.run({ tenant: { id: TENANT_ID, slug: 'acme', name: 'Acme', status: 'active', plan: 'free', entitlements: UNLIMITED_ENTITLEMENTS, database: 'shared' } }, fn);

describe(StorageService.name, () => {
  it('counts backend failures by operation and kind, not the caller\'s own errors', async () => {
    const driver = {
      name: 'local',
      put: async () => {
        throw new Error('client aborted the upload');
      },
      open: async (key: string) => {
        throw new StorageObjectMissingError(key);
      },
      delete: async () => {
        throw new StorageUnavailableError('disk: EIO');
      },
      list: async function* () {
        yield* [];
        throw new StorageUnavailableError('disk: EIO');
      },
      deleteByPrefix: async () => 0,
      presignGet: async () => undefined,
      close: async () => undefined,
    } as unknown as StorageDriver;
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined); // the missing object's loud line
    const sut = new StorageService(driver);
    expect(sut.errorCounts()).toEqual([]);

    await inTenant(async () => {
      const key = sut.newDocumentObjectKey('00000000-0000-4000-8000-000000000002');
      await expect(sut.put(key, Readable.from([]), { contentType: 'text/plain' })).rejects.toThrow('client aborted');
      await expect(sut.open(key)).rejects.toBeInstanceOf(StorageObjectMissingError);
      await expect(sut.delete(key)).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(sut.delete(key)).rejects.toBeInstanceOf(StorageUnavailableError);
      const listing = sut.listTenantObjects();
      await expect((async () => { for await (const _ of listing) void _; })()).rejects.toBeInstanceOf(StorageUnavailableError);
    });

    expect(sut.errorCounts()).toEqual(
      expect.arrayContaining([
        { operation: 'open', kind: 'missing_object', count: 1 },
        { operation: 'delete', kind: 'unavailable', count: 2 },
        { operation: 'list', kind: 'unavailable', count: 1 },
      ]),
    );
    expect(sut.errorCounts()).toHaveLength(3);
  });
});
