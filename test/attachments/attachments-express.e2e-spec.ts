import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestApp, TestApp } from '../helpers/test-app';

/**
 * Uploads read the raw Node request on either adapter. Fastify is the default
 * (attachments.e2e-spec.ts covers it in depth); this checks the Express option
 * keeps streaming uploads and downloads byte for byte.
 */
describe('attachments on the Express adapter', () => {
  let t: TestApp;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'tenancy-data-'));
    t = await startTestApp({ HTTP_ADAPTER: 'express', DATA_DIR: dataDir });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('streams an upload to storage and back unchanged; a body Express already parsed is refused, not stored empty', async () => {
    const tenant = await t.createTenant('express-files');
    const doc = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'with a file' } });
    const data = randomBytes(1_300_000);
    const created = await t.request('POST', `/documents/${doc.body.id}/attachments?filename=big.bin`, {
      tenant: tenant.slug,
      rawBody: new Uint8Array(data),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(created.status).toBe(201);
    expect(created.body.sizeBytes).toBe(data.length);
    const back = await t.request<Buffer>('GET', `/documents/${doc.body.id}/attachments/${created.body.id}/content`, { tenant: tenant.slug, responseType: 'buffer' });
    expect(back.status).toBe(200);
    expect(back.body.equals(data)).toBe(true);
    expect(back.headers.get('content-disposition')).toBe(`attachment; filename="big.bin"; filename*=UTF-8''big.bin`);

    const json = await t.request('POST', `/documents/${doc.body.id}/attachments?filename=data.json`, {
      tenant: tenant.slug,
      rawBody: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(415);
    const list = await t.request('GET', `/documents/${doc.body.id}/attachments`, { tenant: tenant.slug });
    expect(list.body.items.map((i: { filename: string }) => i.filename)).toEqual(['big.bin']);
  });

  it("refuses the issue 9 names on Express's query parser too (positive control: 50%off.txt)", async () => {
    const tenant = await t.createTenant('express-names');
    const doc = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'names' } });
    for (const wire of ['%252e%252e%252fx%25E0', '%2500secret.txt%25E0', '%25E2%2580%25AEtxt.exe%25E0']) {
      const response = await t.request('POST', `/documents/${doc.body.id}/attachments?filename=${wire}`, { tenant: tenant.slug, rawBody: 'payload', headers: { 'content-type': 'text/plain' } });
      expect({ wire, status: response.status, code: response.body?.error?.code, path: response.body?.error?.details?.[0]?.path }).toEqual({ wire, status: 400, code: 'VALIDATION_FAILED', path: 'filename' });
    }
    const plain = await t.request('POST', `/documents/${doc.body.id}/attachments?filename=50%25off.txt`, { tenant: tenant.slug, rawBody: 'payload', headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(201);
    expect(plain.body.filename).toBe('50%off.txt');
  });
});
