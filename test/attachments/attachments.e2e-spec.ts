import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalDiskStorageDriver } from '../../src/storage/local-disk-storage.driver';
import { S3StorageDriver } from '../../src/storage/s3-storage.driver';
import { StorageDriver } from '../../src/storage/storage-driver';
import { startS3Server, TestS3Server } from '../helpers/s3-server';
import { ApiResponse, startTestApp, TestApp } from '../helpers/test-app';

const MAX_BYTES = 1536 * 1024; // above Fastify's 1 MiB JSON body limit, so a 1.2 MiB upload proves streaming
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A body fetch sends chunked (no Content-Length), as a client streaming a file of unknown size does. */
function chunkedBody(data: Buffer, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(new Uint8Array(data.subarray(offset, offset + chunkSize)));
      offset += chunkSize;
    },
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The attachments API end to end, on s3rver (S3 protocol) and on the local-disk default. */
describe.each(['s3', 'local'] as const)('attachments API on the %s storage driver', (driverName) => {
  let t: TestApp;
  let s3: TestS3Server | undefined;
  let dataDir: string;
  /** Looks at storage directly (not through the API) to prove what is and is not stored. */
  let inspector: StorageDriver;
  let a: { id: string; slug: string };
  let b: { id: string; slug: string };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'tenancy-data-'));
    s3 = driverName === 's3' ? await startS3Server() : undefined;
    t = await startTestApp({ DATA_DIR: dataDir, ATTACHMENT_MAX_BYTES: String(MAX_BYTES), ...(s3?.env ?? {}) });
    inspector = s3
      ? new S3StorageDriver({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, forcePathStyle: true, requestTimeoutMs: 5000 })
      : new LocalDiskStorageDriver(path.join(dataDir, 'files'));
    a = await t.createTenant(`att-a-${driverName}`);
    b = await t.createTenant(`att-b-${driverName}`);
  });

  afterAll(async () => {
    await t?.close();
    await inspector?.close();
    await s3?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const newDocument = async (tenant: string) => {
    const response = await t.request('POST', '/documents', { tenant, body: { title: `doc ${randomUUID()}` } });
    expect(response.status).toBe(201);
    return response.body.id as string;
  };
  const upload = (tenant: string, documentId: string, data: Buffer | ReadableStream<Uint8Array>, filename = 'file.bin', contentType = 'application/octet-stream') =>
    t.request('POST', `/documents/${documentId}/attachments?filename=${encodeURIComponent(filename)}`, {
      tenant,
      rawBody: data instanceof Buffer ? new Uint8Array(data) : data,
      headers: { 'content-type': contentType },
    });
  const objectsOf = async (tenantId: string) => (await collect(inspector.list(`tenants/${tenantId}/`))).map((o) => o.key).sort();
  const attachmentRows = async (tenantId: string) => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: t.db.superuserUrl });
    await client.connect();
    try {
      const { rows } = await client.query('select storage_key, status from attachments where tenant_id = $1 order by storage_key', [tenantId]);
      return rows as Array<{ storage_key: string; status: string }>;
    } finally {
      await client.end();
    }
  };

  it('uploads, lists, describes and downloads the exact bytes (larger than the JSON body limit)', async () => {
    const documentId = await newDocument(a.slug);
    const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(1200 * 1024)]);

    const created = await upload(a.slug, documentId, data, 'Résumé (final) "v2".pdf', 'application/pdf');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      documentId,
      filename: 'Résumé (final) "v2".pdf',
      contentType: 'application/pdf',
      sizeBytes: data.length,
      checksumSha256: sha256(data),
    });
    expect(created.body).not.toHaveProperty('storageKey');

    const list = await t.request('GET', `/documents/${documentId}/attachments`, { tenant: a.slug });
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual([created.body.id]);

    const meta = await t.request('GET', `/documents/${documentId}/attachments/${created.body.id}`, { tenant: a.slug });
    expect(meta.status).toBe(200);
    expect(meta.body).toEqual(created.body);

    const download = await t.request<Buffer>('GET', `/documents/${documentId}/attachments/${created.body.id}/content`, { tenant: a.slug, responseType: 'buffer' });
    expect(download.status).toBe(200);
    expect(download.body.equals(data)).toBe(true);
    expect(download.headers.get('content-type')).toMatch(/^application\/pdf/);
    expect(download.headers.get('content-disposition')).toBe(
      `attachment; filename="R_sum_ (final) _v2_.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%28final%29%20%22v2%22.pdf`,
    );
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    expect(download.headers.get('x-checksum-sha256')).toBe(sha256(data));

    // The object sits under the tenant's prefix with a server-generated name; the file name is nowhere in it.
    const objects = await objectsOf(a.id);
    expect(objects).toHaveLength(1);
    expect(objects[0]).toMatch(new RegExp(`^tenants/${a.id}/documents/${documentId}/[0-9a-f-]{36}$`));
  });

  it('streams bodies of any content type untouched, JSON and chunked ones included', async () => {
    const documentId = await newDocument(a.slug);
    const json = Buffer.from('{"not": "parsed", "tenantId": "x"}');
    const asJson = await upload(a.slug, documentId, json, 'data.json', 'application/json');
    expect(asJson.status).toBe(201);
    expect(asJson.body.contentType).toBe('application/json');
    const back = await t.request<Buffer>('GET', `/documents/${documentId}/attachments/${asJson.body.id}/content`, { tenant: a.slug, responseType: 'buffer' });
    expect(back.body.equals(json)).toBe(true);

    const data = randomBytes(700 * 1024);
    const chunked = await upload(a.slug, documentId, chunkedBody(data), 'stream.bin');
    expect(chunked.status).toBe(201);
    expect(chunked.body.sizeBytes).toBe(data.length);
    const streamed = await t.request<Buffer>('GET', `/documents/${documentId}/attachments/${chunked.body.id}/content`, { tenant: a.slug, responseType: 'buffer' });
    expect(streamed.body.equals(data)).toBe(true);

    // The file name may also come percent-encoded in x-filename.
    const viaHeader = await t.request('POST', `/documents/${documentId}/attachments`, {
      tenant: a.slug,
      rawBody: new Uint8Array(Buffer.from('hi')),
      headers: { 'content-type': 'text/plain', 'x-filename': encodeURIComponent('notes ✓.txt') },
    });
    expect(viaHeader.status).toBe(201);
    expect(viaHeader.body.filename).toBe('notes ✓.txt');
  });

  it('refuses an upload over ATTACHMENT_MAX_BYTES with 413, declared or streamed, and stores nothing (positive control: exactly the limit)', async () => {
    const documentId = await newDocument(b.slug);
    const exact = await upload(b.slug, documentId, randomBytes(MAX_BYTES), 'exact.bin');
    expect(exact.status).toBe(201);
    const before = await objectsOf(b.id);

    const declared = await upload(b.slug, documentId, randomBytes(MAX_BYTES + 1), 'declared.bin');
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe('PAYLOAD_TOO_LARGE');

    const streamed = await upload(b.slug, documentId, chunkedBody(randomBytes(MAX_BYTES + 100 * 1024)), 'streamed.bin');
    expect(streamed.status).toBe(413);
    expect(streamed.body.error.code).toBe('PAYLOAD_TOO_LARGE');

    expect(await objectsOf(b.id)).toEqual(before);
    const list = await t.request('GET', `/documents/${documentId}/attachments`, { tenant: b.slug });
    expect(list.body.items.map((i: { filename: string }) => i.filename)).toEqual(['exact.bin']);
  });

  it('refuses hostile file names with 400 before storing anything (positive control: a plain name)', async () => {
    const tenant = await t.createTenant(`att-hostile-${driverName}`);
    const documentId = await newDocument(tenant.slug);
    const hostile = ['../../etc/passwd', '%2e%2e%2f', '%2e%2e%2fsecret', '//server/share', '/etc/passwd', 'a\\b', '..\\..\\win.ini', 'nul\u0000.txt', 'bell\u0007.txt', 'x'.repeat(256), '..', ''];
    for (const name of hostile) {
      const response = await upload(tenant.slug, documentId, Buffer.from('payload'), name);
      expect({ name, status: response.status, code: response.body?.error?.code }).toEqual({ name, status: 400, code: 'VALIDATION_FAILED' });
    }
    // Raw, undecoded traversal in the query string and in the header.
    const rawQuery = await t.request('POST', `/documents/${documentId}/attachments?filename=..%2F..%2Fx`, { tenant: tenant.slug, rawBody: 'payload', headers: { 'content-type': 'text/plain' } });
    expect(rawQuery.status).toBe(400);
    const rawHeader = await t.request('POST', `/documents/${documentId}/attachments`, { tenant: tenant.slug, rawBody: 'payload', headers: { 'content-type': 'text/plain', 'x-filename': '..%2Fx' } });
    expect(rawHeader.status).toBe(400);
    const missing = await t.request('POST', `/documents/${documentId}/attachments`, { tenant: tenant.slug, rawBody: 'payload', headers: { 'content-type': 'text/plain' } });
    expect(missing.status).toBe(400);

    expect(await objectsOf(tenant.id)).toEqual([]);
    expect(await attachmentRows(tenant.id)).toEqual([]);

    const plain = await upload(tenant.slug, documentId, Buffer.from('payload'), 'plain name.txt');
    expect(plain.status).toBe(201);
    expect(await objectsOf(tenant.id)).toHaveLength(1);
  });

  it('refuses a name that hides traversal, NUL or a bidi override behind an invalid percent-sequence, via ?filename= and x-filename (issue 9; positive control: 50%off, 100% sure)', async () => {
    const tenant = await t.createTenant(`att-issue9-${driverName}`);
    const documentId = await newDocument(tenant.slug);
    // Sent exactly as in the issue: one decoding (query parser or x-filename) leaves %2e%2e%2fx%E0 and the like.
    const wires = ['%252e%252e%252fx%25E0', '%2500secret.txt%25E0', '%25E2%2580%25AEtxt.exe%25E0', '%25252e%25252e%25252fx%2525e0'];
    for (const wire of wires) {
      const viaQuery = await t.request('POST', `/documents/${documentId}/attachments?filename=${wire}`, { tenant: tenant.slug, rawBody: 'payload', headers: { 'content-type': 'text/plain' } });
      const viaHeader = await t.request('POST', `/documents/${documentId}/attachments`, { tenant: tenant.slug, rawBody: 'payload', headers: { 'content-type': 'text/plain', 'x-filename': wire } });
      for (const [via, response] of [['query', viaQuery], ['header', viaHeader]] as const) {
        expect({ wire, via, status: response.status, code: response.body?.error?.code, path: response.body?.error?.details?.[0]?.path }).toEqual({
          wire,
          via,
          status: 400,
          code: 'VALIDATION_FAILED',
          path: 'filename',
        });
      }
    }
    expect(await objectsOf(tenant.id)).toEqual([]);
    expect(await attachmentRows(tenant.id)).toEqual([]);

    const viaQuery = await t.request('POST', `/documents/${documentId}/attachments?filename=50%25off%20%E2%9C%93.txt`, { tenant: tenant.slug, rawBody: 'payload', headers: { 'content-type': 'text/plain' } });
    expect(viaQuery.status).toBe(201);
    expect(viaQuery.body.filename).toBe('50%off ✓.txt');
    const viaHeader = await t.request('POST', `/documents/${documentId}/attachments`, { tenant: tenant.slug, rawBody: 'payload', headers: { 'content-type': 'text/plain', 'x-filename': '100%25%20sure.pdf' } });
    expect(viaHeader.status).toBe(201);
    expect(viaHeader.body.filename).toBe('100% sure.pdf');
    const echoes = await Promise.all(
      [viaQuery, viaHeader].map(async (created) =>
        (await t.request<Buffer>('GET', `/documents/${documentId}/attachments/${created.body.id}/content`, { tenant: tenant.slug, responseType: 'buffer' })).headers.get('content-disposition'),
      ),
    );
    expect(echoes).toEqual([
      `attachment; filename="50_off _.txt"; filename*=UTF-8''50%25off%20%E2%9C%93.txt`,
      `attachment; filename="100_ sure.pdf"; filename*=UTF-8''100%25%20sure.pdf`,
    ]);
  });

  it("answers another tenant's attachment exactly like a random id (404) and changes nothing", async () => {
    const documentId = await newDocument(a.slug);
    const data = randomBytes(2048);
    const created = await upload(a.slug, documentId, data);
    expect(created.status).toBe(201);
    const attachmentId = created.body.id;
    const bDocument = await newDocument(b.slug);

    const strip = (r: ApiResponse) => ({ status: r.status, code: r.body?.error?.code, message: r.body?.error?.message });
    const cases: Array<[string, string]> = [
      ['GET', `/documents/${documentId}/attachments/${attachmentId}`],
      ['GET', `/documents/${documentId}/attachments/${attachmentId}/content`],
      ['GET', `/documents/${documentId}/attachments/${attachmentId}/download-url`],
      ['DELETE', `/documents/${documentId}/attachments/${attachmentId}`],
      ['GET', `/documents/${bDocument}/attachments/${attachmentId}`],
    ];
    for (const [method, url] of cases) {
      const foreign = await t.request(method, url, { tenant: b.slug });
      const random = await t.request(method, url.replace(attachmentId, randomUUID()).replace(documentId, randomUUID()), { tenant: b.slug });
      expect(strip(foreign)).toEqual(strip(random));
      expect(foreign.status).toBe(404);
    }
    // Listing or uploading to A's document from B: "no such document", as for a random one.
    const list = await t.request('GET', `/documents/${documentId}/attachments`, { tenant: b.slug });
    const listRandom = await t.request('GET', `/documents/${randomUUID()}/attachments`, { tenant: b.slug });
    expect(strip(list)).toEqual(strip(listRandom));
    expect(list.status).toBe(404);
    const intrude = await upload(b.slug, documentId, Buffer.from('intruder'));
    expect(intrude.status).toBe(404);
    expect(await objectsOf(b.id)).not.toContainEqual(expect.stringContaining(documentId));

    // Positive control: the owner still has it, bytes intact.
    const own = await t.request<Buffer>('GET', `/documents/${documentId}/attachments/${attachmentId}/content`, { tenant: a.slug, responseType: 'buffer' });
    expect(own.status).toBe(200);
    expect(own.body.equals(data)).toBe(true);
  });

  it('deletes the row and then the object; deleting the document removes its objects', async () => {
    const documentId = await newDocument(a.slug);
    const first = await upload(a.slug, documentId, Buffer.from('first'));
    const second = await upload(a.slug, documentId, Buffer.from('second'));
    const prefix = `tenants/${a.id}/documents/${documentId}/`;
    expect((await collect(inspector.list(prefix))).length).toBe(2);

    const removed = await t.request('DELETE', `/documents/${documentId}/attachments/${first.body.id}`, { tenant: a.slug });
    expect(removed.status).toBe(204);
    expect((await t.request('GET', `/documents/${documentId}/attachments/${first.body.id}`, { tenant: a.slug })).status).toBe(404);
    expect((await collect(inspector.list(prefix))).length).toBe(1);

    expect((await t.request('DELETE', `/documents/${documentId}`, { tenant: a.slug })).status).toBe(204);
    expect(await collect(inspector.list(prefix))).toEqual([]);
    expect((await attachmentRows(a.id)).map((r) => r.storage_key)).not.toContain(`${prefix}${second.body.id}`);
    expect((await attachmentRows(a.id)).filter((r) => r.storage_key.startsWith(prefix))).toEqual([]);
  });

  it('offers a download URL: a presigned GET for one key on S3, the content route on disk', async () => {
    const documentId = await newDocument(a.slug);
    const data = randomBytes(4096);
    const created = await upload(a.slug, documentId, data, 'report.bin');
    const response = await t.request('GET', `/documents/${documentId}/attachments/${created.body.id}/download-url`, { tenant: a.slug });
    expect(response.status).toBe(200);
    if (driverName === 's3') {
      expect(response.body.presigned).toBe(true);
      const url = new URL(response.body.url);
      expect(url.pathname).toMatch(new RegExp(`/tenants/${a.id}/documents/${documentId}/[0-9a-f-]{36}$`));
      expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
      const fetched = await fetch(url);
      expect(fetched.status).toBe(200);
      expect(Buffer.from(await fetched.arrayBuffer()).equals(data)).toBe(true);
      expect(fetched.headers.get('content-disposition')).toBe(`attachment; filename="report.bin"; filename*=UTF-8''report.bin`);
    } else {
      expect(response.body).toEqual({ url: `/documents/${documentId}/attachments/${created.body.id}/content`, presigned: false, expiresAt: null });
    }
  });
});
