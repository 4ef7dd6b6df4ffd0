import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalDiskStorageDriver } from '../../src/storage/local-disk-storage.driver';
import { S3StorageDriver } from '../../src/storage/s3-storage.driver';
import { StorageDriver } from '../../src/storage/storage-driver';
import { InvalidStorageKeyError } from '../../src/storage/storage-keys';
import { StorageService } from '../../src/storage/storage.service';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { startS3Server, TestS3Server } from '../helpers/s3-server';
import { UNLIMITED_ENTITLEMENTS } from '../helpers/tenants';

const tenant = (id: string): Tenant => ({ id, slug: `t-${id.slice(0, 8)}`, name: id, status: 'active', plan: 'free', entitlements: UNLIMITED_ENTITLEMENTS, database: 'shared' });
const as = <T>(id: string, fn: () => Promise<T>) => TenantContext.run({ tenant: tenant(id) }, fn);

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** StorageService on a real S3-protocol server (s3rver) and on local disk. */
describe.each(['s3', 'local'] as const)('StorageService on the %s driver', (driverName) => {
  let s3: TestS3Server | undefined;
  let root: string | undefined;
  let driver: StorageDriver;
  let storage: StorageService;

  beforeAll(async () => {
    if (driverName === 's3') {
      s3 = await startS3Server();
      driver = new S3StorageDriver({
        bucket: s3.bucket,
        endpoint: s3.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        forcePathStyle: true,
        requestTimeoutMs: 5000,
      });
    } else {
      root = mkdtempSync(path.join(os.tmpdir(), 'tenancy-files-'));
      driver = new LocalDiskStorageDriver(root);
    }
    storage = new StorageService(driver);
  });

  afterAll(async () => {
    await storage?.onApplicationShutdown();
    await s3?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const upload = (tenantId: string, documentId: string, data: Buffer) =>
    as(tenantId, async () => {
      const key = storage.newDocumentObjectKey(documentId);
      await storage.put(key, Readable.from([data]), { contentType: 'application/octet-stream', contentLength: data.length });
      return key;
    });

  it('builds keys as tenants/<tenantId>/documents/<documentId>/<uuid> and returns the same bytes', async () => {
    const tenantId = randomUUID();
    const documentId = randomUUID();
    const data = randomBytes(300_000);
    const key = await upload(tenantId, documentId, data);
    expect(key).toMatch(new RegExp(`^tenants/${tenantId}/documents/${documentId}/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`));
    const opened = await as(tenantId, () => storage.open(key));
    expect((await readAll(opened.body)).equals(data)).toBe(true);
  });

  it('stores chunked uploads of unknown length, across the multipart threshold too', async () => {
    const tenantId = randomUUID();
    const data = randomBytes(9 * 1024 * 1024 + 123);
    const key = await as(tenantId, async () => {
      const key = storage.newDocumentObjectKey(randomUUID());
      const chunks = Array.from({ length: Math.ceil(data.length / 65_536) }, (_, i) => data.subarray(i * 65_536, (i + 1) * 65_536));
      await storage.put(key, Readable.from(chunks), { contentType: 'application/octet-stream' });
      return key;
    });
    const opened = await as(tenantId, () => storage.open(key));
    expect((await readAll(opened.body)).equals(data)).toBe(true);
  });

  it("lists and deletes tenant abc's objects without touching tenant abcd's", async () => {
    // Real tenant ids are UUIDs; build the prefix-overlap case explicitly.
    const base = randomBytes(6).toString('hex');
    const abc = `${base}abc`;
    const abcd = `${base}abcd`;
    const abcKeys = [await upload(abc, 'd1', Buffer.from('abc-1')), await upload(abc, 'd2', Buffer.from('abc-2'))];
    const abcdKeys = [await upload(abcd, 'd1', Buffer.from('abcd-1'))];

    const listedAbc = (await as(abc, () => collect(storage.listTenantObjects()))).map((o) => o.key).sort();
    expect(listedAbc).toEqual([...abcKeys].sort());
    const listedAbcd = (await as(abcd, () => collect(storage.listTenantObjects()))).map((o) => o.key);
    expect(listedAbcd).toEqual(abcdKeys);

    expect(await as(abc, () => storage.deleteTenantObjects())).toBe(2);

    expect(await as(abc, () => collect(storage.listTenantObjects()))).toEqual([]);
    expect((await as(abcd, () => collect(storage.listTenantObjects()))).map((o) => o.key)).toEqual(abcdKeys);
    const survivor = await as(abcd, () => storage.open(abcdKeys[0]));
    expect((await readAll(survivor.body)).toString()).toBe('abcd-1');
  });

  it("refuses a key of another tenant before reaching storage (positive control: the owner's own key)", async () => {
    const [owner, other] = [randomUUID(), randomUUID()];
    const key = await upload(owner, randomUUID(), Buffer.from('mine'));
    await expect(as(other, () => storage.open(key))).rejects.toBeInstanceOf(InvalidStorageKeyError);
    await expect(as(other, () => storage.delete(key))).rejects.toBeInstanceOf(InvalidStorageKeyError);
    const own = await as(owner, () => storage.open(key));
    expect((await readAll(own.body)).toString()).toBe('mine');
  });

  it('refuses keys that are not of the server-built shape', async () => {
    const id = randomUUID();
    const documentId = randomUUID();
    const good = `tenants/${id}/documents/${documentId}/${randomUUID()}`;
    for (const bad of [
      `tenants/${id}/documents/${documentId}/../../../etc/passwd`,
      `tenants/${id}/../${randomUUID()}/documents/${documentId}/${randomUUID()}`,
      `/tenants/${id}/documents/${documentId}/${randomUUID()}`,
      `tenants/${id}/documents/${documentId}/x`,
      `tenants/${id}//documents/${documentId}/${randomUUID()}`,
    ]) {
      await expect(as(id, () => storage.open(bad))).rejects.toBeInstanceOf(InvalidStorageKeyError);
    }
    // Positive control: the right shape passes the check (and then is simply not there).
    await expect(as(id, () => storage.open(good))).rejects.toThrow(/missing/);
  });

  if (driverName === 'local') {
    it('keeps every resolved path inside the root', () => {
      const disk = driver as LocalDiskStorageDriver;
      expect(disk.pathFor('tenants/abc/documents/d/f')).toBe(path.join(disk.root, 'tenants', 'abc', 'documents', 'd', 'f'));
      for (const bad of ['../x', 'tenants/../../x', '/etc/passwd', 'tenants//x', 'tenants/./x', 'a\\..\\..\\x', 'tenants/\u0000', '', '.', 'tenants/.hidden']) {
        expect(() => disk.pathFor(bad)).toThrow(InvalidStorageKeyError);
      }
    });
  }
});
