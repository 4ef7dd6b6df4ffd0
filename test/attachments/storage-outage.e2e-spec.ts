import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startS3Server, TestS3Server } from '../helpers/s3-server';
import { startTestApp, TestApp } from '../helpers/test-app';

/**
 * S3 stopped mid-test (the in-process s3rver is closed): uploads and downloads
 * answer 503 with Retry-After, no metadata row is left behind, validation still
 * answers 400 first (it never needed storage), and everything works again once
 * S3 is back.
 */
describe('attachments while S3 is down', () => {
  let t: TestApp;
  let s3: TestS3Server;
  let tenant: { id: string; slug: string };
  let documentId: string;

  beforeAll(async () => {
    s3 = await startS3Server();
    t = await startTestApp({ ...s3.env, S3_REQUEST_TIMEOUT_MS: '2000' });
    tenant = await t.createTenant('s3-outage');
    const doc = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'with files' } });
    documentId = doc.body.id;
  });

  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  const upload = (data: Buffer, filename = 'file.bin') =>
    t.request('POST', `/documents/${documentId}/attachments?filename=${encodeURIComponent(filename)}`, {
      tenant: tenant.slug,
      rawBody: new Uint8Array(data),
      headers: { 'content-type': 'application/octet-stream' },
    });
  const rows = async () => {
    const client = new pg.Client({ connectionString: t.db.superuserUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; status: string }>('select id, status from attachments where tenant_id = $1 order by created_at', [tenant.id]);
      return rows;
    } finally {
      await client.end();
    }
  };

  it('answers 503 with Retry-After and leaves no orphan metadata, then recovers', async () => {
    // Positive control: S3 up.
    const data = randomBytes(64 * 1024);
    const before = await upload(data, 'before.bin');
    expect(before.status).toBe(201);
    expect(await rows()).toEqual([{ id: before.body.id, status: 'ready' }]);

    await s3.stop();

    const during = await upload(randomBytes(64 * 1024), 'during.bin');
    expect(during.status).toBe(503);
    expect(during.body.error.code).toBe('STORAGE_UNAVAILABLE');
    expect(during.headers.get('retry-after')).toBe('5');
    expect(during.body.error.message).not.toMatch(/s3|127\.0\.0\.1|ECONN/i);

    const download = await t.request('GET', `/documents/${documentId}/attachments/${before.body.id}/content`, { tenant: tenant.slug });
    expect(download.status).toBe(503);
    expect(download.headers.get('retry-after')).toBe('5');

    // Checks that need no storage still answer as usual.
    expect((await upload(Buffer.from('x'), '../escape')).status).toBe(400);
    const meta = await t.request('GET', `/documents/${documentId}/attachments/${before.body.id}`, { tenant: tenant.slug });
    expect(meta.status).toBe(200);

    // No row for the failed upload: only the one from before.
    expect(await rows()).toEqual([{ id: before.body.id, status: 'ready' }]);
    const list = await t.request('GET', `/documents/${documentId}/attachments`, { tenant: tenant.slug });
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual([before.body.id]);

    await s3.restart();

    const after = await upload(Buffer.from('after'), 'after.bin');
    expect(after.status).toBe(201);
    const again = await t.request<Buffer>('GET', `/documents/${documentId}/attachments/${before.body.id}/content`, { tenant: tenant.slug, responseType: 'buffer' });
    expect(again.status).toBe(200);
    expect(again.body.equals(data)).toBe(true);
    expect((await rows()).map((r) => r.id)).toEqual([before.body.id, after.body.id]);
  });
});
