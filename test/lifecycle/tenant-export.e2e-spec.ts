import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip, createGzip, gunzipSync } from 'node:zlib';
import pg from 'pg';
import * as tar from 'tar-stream';
import { TenantRows } from '../../src/database/tenant-rows';
import { ExportsRepository } from '../../src/exports/exports.repository';
import { TenantExporter } from '../../src/exports/tenant-exporter';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { seedTenantData } from '../helpers/isolation-harness';
import { startS3Server, TestS3Server } from '../helpers/s3-server';
import { startTestApp, TestApp } from '../helpers/test-app';
import { deleteTenantAndWait, settledDeletion } from '../helpers/tenant-deletions';
import { tenantTables } from '../helpers/test-database';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { until } from '../helpers/until';

/**
 * Export and import (README "Export and import") on real PostgreSQL, Redis-less cache, an
 * S3-protocol server and the job worker. What the test trusts is read beside the application:
 * rows as the superuser (RLS cannot hide them), objects with ListObjectsV2/GetObject, and the
 * archive by unpacking it here with tar-stream (not with the code under test).
 */
describe('tenant export and import', () => {
  let s3: TestS3Server;
  let t: TestApp;
  let s3Client: S3Client;
  let su: pg.Client;
  let scratch: string;

  beforeAll(async () => {
    s3 = await startS3Server('exports-test');
    s3Client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    t = await startTestApp({ ...s3.env, S3_REQUEST_TIMEOUT_MS: '2000', JOBS_WORKER: 'on', JOBS_POLL_INTERVAL_MS: '100', USAGE_FLUSH_INTERVAL_MS: '3600000' });
    su = new pg.Client({ connectionString: t.db.superuserUrl });
    await su.connect();
    scratch = mkdtempSync(path.join(os.tmpdir(), 'export-spec-'));
  }, 120_000);

  afterAll(async () => {
    await su?.end();
    await t?.close();
    s3Client?.destroy();
    await s3?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Every row of the tenant per tenant table, as the superuser, tenant_id left out and its id masked, in key order. */
  async function rowsOf(tenantId: string): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const table of await tenantTables(su)) {
      const { rows } = await su.query<{ line: string }>(`select (to_jsonb(t) - 'tenant_id')::text as line from "${table}" t where tenant_id = $1 order by id`, [tenantId]);
      out[table] = rows.map((row) => row.line.split(tenantId).join('<tenant>'));
    }
    return out;
  }
  const counts = (rows: Record<string, string[]>) => Object.fromEntries(Object.entries(rows).map(([table, lines]) => [table, lines.length]));

  /** The tenant's objects (key below its prefix -> sha256 of the bytes), export archives left out. */
  async function filesOf(tenantId: string): Promise<Record<string, string>> {
    const prefix = `tenants/${tenantId}/`;
    const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
    const out: Record<string, string> = {};
    for (const object of listed.Contents ?? []) {
      if (object.Key!.startsWith(`${prefix}exports/`)) continue;
      const body = await (await s3Client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: object.Key! }))).Body!.transformToByteArray();
      out[object.Key!.slice(prefix.length)] = createHash('sha256').update(body).digest('hex');
    }
    return out;
  }
  const exportObjectsOf = async (tenantId: string) =>
    ((await s3Client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `tenants/${tenantId}/exports/` }))).Contents ?? []).map((object) => object.Key!);

  /** The archive's entries (name -> bytes), read with tar-stream here. */
  async function unpack(archive: Buffer): Promise<Map<string, Buffer>> {
    const entries = new Map<string, Buffer>();
    const extract = tar.extract();
    Readable.from([archive]).pipe(createGunzip()).pipe(extract);
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      entries.set(entry.header.name, Buffer.concat(chunks));
    }
    return entries;
  }

  /** Packs entries (name -> bytes) into a tar.gz, in the given order. */
  async function pack(entries: Map<string, Buffer>): Promise<Buffer> {
    const packer = tar.pack();
    for (const [name, bytes] of entries) packer.entry({ name }, bytes);
    packer.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of packer.pipe(createGzip())) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Rows in every tenant table (seedTenantData), files, and a marker only this tenant has. */
  async function seeded(slug: string) {
    const tenant = await t.createTenant(slug);
    await seedTenantData(t, slug);
    const marker = `marker-${slug}-${randomUUID()}`;
    expect((await t.request('POST', '/documents', { tenant: slug, body: { title: marker, body: marker, tags: ['x'] } })).status).toBe(201);
    return { ...tenant, marker };
  }

  /** POST /exports as the tenant's owner, then the worker runs it: the export once succeeded. */
  async function exportThroughApi(slug: string) {
    const requested = await t.request('POST', '/exports', { tenant: slug });
    expect(requested.status).toBe(202);
    // Queued, or already taken by the worker (it is woken at once).
    expect(['queued', 'running']).toContain(requested.body.status);
    const done = await until(() => t.request('GET', `/exports/${requested.body.id}`, { tenant: slug }), (r) => r.body.status === 'succeeded' || r.body.status === 'failed', 'export finished');
    expect(done.body.status).toBe('succeeded');
    const download = await t.request('GET', `/exports/${requested.body.id}/download`, { tenant: slug, responseType: 'buffer' });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/gzip');
    const archive = download.body as Buffer;
    const sha256 = createHash('sha256').update(archive).digest('hex');
    expect(download.headers.get('x-checksum-sha256')).toBe(sha256);
    expect(done.body).toMatchObject({ checksumSha256: sha256, sizeBytes: archive.length });
    return { view: done.body, archive };
  }

  const importArchive = (archive: Buffer, query: string) =>
    t.request('POST', `/tenants/import?${query}`, { admin: true, rawBody: archive, headers: { 'content-type': 'application/gzip' } });

  let a: Awaited<ReturnType<typeof seeded>>;
  let b: Awaited<ReturnType<typeof seeded>>;
  let archiveOfA: Buffer;
  let exportOfA: { id: string };

  beforeAll(async () => {
    a = await seeded('export-a');
    b = await seeded('export-b');
    // Both tenants have an export row too (the exports table is a tenant table like any other).
    await exportThroughApi(b.slug);
    const exported = await exportThroughApi(a.slug);
    archiveOfA = exported.archive;
    exportOfA = exported.view;
  }, 120_000);

  it("holds every row of the tenant (per table, as many as the catalog counts) and its files, and nothing of another tenant's", async () => {
    const entries = await unpack(archiveOfA);
    const manifest = JSON.parse(entries.get('manifest.json')!.toString('utf8'));
    expect([...entries.keys()][0]).toBe('manifest.json');
    expect(manifest).toMatchObject({ format: 'tenancy-tenant-archive', version: 1, tenant: { id: a.id, slug: a.slug } });
    const aRows = await rowsOf(a.id);
    // Every tenant table is in it, with the tenant's rows in it, and the counts of the catalog (positive control: each is > 0).
    const tables = await tenantTables(su);
    expect(manifest.tables.map((table: { name: string }) => table.name).sort()).toEqual([...tables].sort());
    for (const table of tables) {
      const lines = entries.get(`rows/${table}.ndjson`)!.toString('utf8').split('\n').filter(Boolean);
      const entry = manifest.tables.find((m: { name: string }) => m.name === table);
      // The export's own row and job changed state after the snapshot (queued -> succeeded): compared by id there.
      const ids = (rows: string[]) => rows.map((line) => JSON.parse(line).id).sort();
      expect([table, lines.length, entry.count]).toEqual([table, aRows[table].length, aRows[table].length]);
      expect([table, aRows[table].length > 0]).toEqual([table, true]);
      if (table === 'exports' || table === 'jobs') expect(ids(lines)).toEqual(ids(aRows[table]));
      else expect([table, lines.map((line) => line.split(a.id).join('<tenant>')).sort()]).toEqual([table, [...aRows[table]].sort()]);
    }
    // The files: the tenant's objects but its export archives, bytes equal.
    const aFiles = await filesOf(a.id);
    expect(Object.keys(aFiles)).toHaveLength(2);
    expect(Object.fromEntries(manifest.files.map((file: { key: string; sha256: string }) => [file.key, file.sha256]))).toEqual(aFiles);
    for (const file of manifest.files) expect(createHash('sha256').update(entries.get(`files/${file.key}`)!).digest('hex')).toBe(file.sha256);
    expect([...entries.keys()].some((name) => name.includes('exports/'))).toBe(false);

    // Nothing of B anywhere in the archive: not its id, not its marker, not any id of its rows.
    const text = gunzipSync(archiveOfA).toString('latin1');
    expect(text).toContain(a.marker); // positive control: A's marker is found the same way
    expect(text).not.toContain(b.marker);
    expect(text).not.toContain(b.id);
    const bIds = new Set(Object.values(await rowsOf(b.id)).flatMap((lines) => lines.map((line) => JSON.parse(line).id as string)));
    expect(bIds.size).toBeGreaterThan(5);
    const aIds = new Set(Object.values(aRows).flatMap((lines) => lines.map((line) => JSON.parse(line).id as string)));
    for (const id of bIds) if (!aIds.has(id)) expect(text).not.toContain(id);
  });

  it("another tenant cannot see or download the export (404 like a random id); its own admin can", async () => {
    for (const suffix of ['', '/download']) {
      const own = await t.request('GET', `/exports/${exportOfA.id}${suffix}`, { tenant: a.slug });
      expect(own.status).toBe(200);
      const foreign = await t.request('GET', `/exports/${exportOfA.id}${suffix}`, { tenant: b.slug });
      const random = await t.request('GET', `/exports/${randomUUID()}${suffix}`, { tenant: b.slug });
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe(random.body.error.code);
    }
    const listed = await t.request('GET', '/exports', { tenant: b.slug });
    expect(listed.status).toBe(200);
    expect(listed.body.items.length).toBeGreaterThan(0);
    expect(listed.body.items.map((item: { id: string }) => item.id)).not.toContain(exportOfA.id);
  });

  it('answers 409 EXPORT_NOT_READY while an export is not succeeded', async () => {
    const queued = await t.app.get(TenantResolver).runForTenant(a.id, () => t.app.get(ExportsRepository).create({ id: randomUUID(), requestedBy: 'test' }));
    const refused = await t.request('GET', `/exports/${queued.id}/download`, { tenant: a.slug });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('EXPORT_NOT_READY');
  });

  it('round trip: an import into a new tenant has every row and file of the export, equal but for the tenant id', async () => {
    const before = await rowsOf(a.id);
    const imported = await importArchive(archiveOfA, 'slug=export-a-copy&name=Copy');
    expect(imported.status).toBe(201);
    expect(imported.body).toMatchObject({ tenant: { slug: 'export-a-copy', name: 'Copy', created: true }, source: { tenantId: a.id, slug: a.slug }, files: 2 });
    const copyId = imported.body.tenant.id;
    const copied = await rowsOf(copyId);
    // The archive's rows (the snapshot) against the copy: the export and job rows changed in A since, compared by id.
    const entries = await unpack(archiveOfA);
    for (const table of await tenantTables(su)) {
      const archived = entries.get(`rows/${table}.ndjson`)!.toString('utf8').split('\n').filter(Boolean).map((line) => line.split(a.id).join('<tenant>'));
      expect([table, [...copied[table]].sort()]).toEqual([table, archived.sort()]);
      if (table !== 'exports' && table !== 'jobs') expect([table, copied[table]]).toEqual([table, before[table]]);
    }
    expect(await filesOf(copyId)).toEqual(await filesOf(a.id));
    const rows = t.app.get(TenantRows);
    const [sourceSums, copySums] = await Promise.all([rows.checksums({ tenantId: a.id, database: 'shared' }), rows.checksums({ tenantId: copyId, database: 'shared' })]);
    expect(copySums.documents).toEqual(sourceSums.documents);
    expect(copySums.attachments).toEqual(sourceSums.attachments);
    // The copy works: A's owner signs in to it (the membership came with the rows) and reads the documents and a file.
    const login = await t.login('export-a-copy', `owner@${a.slug}.test`, TEST_OWNER_PASSWORD);
    expect(login.status).toBe(200);
    const docs = await t.request('GET', '/documents', { tenant: 'export-a-copy', auth: login.body.accessToken });
    expect(docs.status).toBe(200);
    expect(docs.body.items.map((doc: { title: string }) => doc.title)).toContain(a.marker);
    const withFile = docs.body.items.find((doc: { title: string }) => doc.title.endsWith('doc 1'));
    const attachments = await t.request('GET', `/documents/${withFile.id}/attachments`, { tenant: 'export-a-copy', auth: login.body.accessToken });
    const content = await t.request('GET', `/documents/${withFile.id}/attachments/${attachments.body.items[0].id}/content`, { tenant: 'export-a-copy', auth: login.body.accessToken });
    expect(content.status).toBe(200);
    expect(content.body).toBe(`${a.slug} file 1`);
  }, 60_000);

  it('refuses an import into a tenant that has data (409 TENANT_NOT_EMPTY, nothing written); an empty one takes it', async () => {
    const bBefore = await rowsOf(b.id);
    const bFilesBefore = await filesOf(b.id);
    const refused = await importArchive(archiveOfA, `into=${b.slug}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('TENANT_NOT_EMPTY');
    expect(await rowsOf(b.id)).toEqual(bBefore);
    expect(await filesOf(b.id)).toEqual(bFilesBefore);

    // Positive control: a tenant created without an owner has no rows and no files.
    const empty = await t.createTenant('export-empty', { owner: undefined });
    const accepted = await importArchive(archiveOfA, `into=${empty.slug}`);
    expect(accepted.status).toBe(201);
    expect(accepted.body.tenant).toMatchObject({ id: empty.id, created: false });
    expect(counts(await rowsOf(empty.id))).toEqual(counts(await rowsOf(accepted.body.tenant.id)));
    expect(Object.keys(await filesOf(empty.id))).toHaveLength(2);
  }, 60_000);

  it('refuses a tampered archive (422 ARCHIVE_INVALID, what is wrong in details) and writes nothing; the untampered one imports', async () => {
    const entries = await unpack(archiveOfA);
    const documents = entries.get('rows/documents.ndjson')!.toString('utf8');
    expect(documents).toContain(a.marker);
    const tampered = new Map(entries);
    tampered.set('rows/documents.ndjson', Buffer.from(documents.replace(a.marker, `${a.marker}-changed`)));
    const refused = await importArchive(await pack(tampered), 'slug=export-tampered&name=Tampered');
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('ARCHIVE_INVALID');
    expect(refused.body.error.details).toEqual([{ path: 'rows/documents.ndjson', message: 'checksum mismatch' }]);

    const fileTampered = new Map(entries);
    const fileName = [...entries.keys()].find((name) => name.startsWith('files/'))!;
    fileTampered.set(fileName, Buffer.from('other bytes'));
    const refusedFile = await importArchive(await pack(fileTampered), 'slug=export-tampered&name=Tampered');
    expect(refusedFile.status).toBe(422);
    expect(refusedFile.body.error.details).toEqual([{ path: fileName, message: 'size or sha256 mismatch' }]);

    const garbage = await importArchive(Buffer.from('not an archive'), 'slug=export-tampered&name=Tampered');
    expect(garbage.status).toBe(422);
    expect(garbage.body.error.code).toBe('ARCHIVE_INVALID');
    // Nothing written: no tenant of that slug.
    expect((await t.request('GET', '/tenants/export-tampered', { admin: true })).status).toBe(404);
    expect((await su.query("select 1 from tenants where slug = 'export-tampered'")).rowCount).toBe(0);

    // Positive control: the same archive untampered (repacked the same way) imports.
    const accepted = await importArchive(await pack(entries), 'slug=export-tampered&name=Tampered');
    expect(accepted.status).toBe(201);
  }, 60_000);

  it('undoes an import that fails after its files are stored (rows refused): no tenant, no files left; 422', async () => {
    // A consistent archive (checksums recomputed) whose membership names a user account this deployment lacks.
    const entries = await unpack(archiveOfA);
    const manifest = JSON.parse(entries.get('manifest.json')!.toString('utf8'));
    const lines = entries.get('rows/memberships.ndjson')!.toString('utf8').split('\n').filter(Boolean);
    const edited = lines.map((line, i) => (i === 0 ? JSON.stringify({ ...JSON.parse(line), user_id: randomUUID() }) : line));
    const hash = createHash('sha256');
    for (const line of edited) hash.update(`${line.split(a.id).join('00000000-0000-0000-0000-000000000000')}\n`);
    manifest.tables.find((table: { name: string }) => table.name === 'memberships').checksum = hash.digest('hex');
    const forged = new Map(entries);
    forged.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
    forged.set('rows/memberships.ndjson', Buffer.from(`${edited.join('\n')}\n`));
    const objectsBefore = (await s3Client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'tenants/' }))).KeyCount;

    const refused = await importArchive(await pack(forged), 'slug=export-undone&name=Undone');
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'ARCHIVE_INVALID', details: [{ path: 'memberships' }] });
    expect((await su.query("select 1 from tenants where slug = 'export-undone'")).rowCount).toBe(0);
    expect((await s3Client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'tenants/' }))).KeyCount).toBe(objectsBefore);
    // Positive control: the same slug imports once the archive is consistent with this deployment.
    expect((await importArchive(archiveOfA, 'slug=export-undone&name=Undone')).status).toBe(201);
    expect((await s3Client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'tenants/' }))).KeyCount).toBe(objectsBefore! + 2);
  }, 60_000);

  it('resumes after a failure half way: storage down during the upload, nothing stored; the re-run writes the archive', async () => {
    const c = await seeded('export-c');
    const resolver = t.app.get(TenantResolver);
    const exporter = t.app.get(TenantExporter);
    const row = await resolver.runForTenant(c.id, () => t.app.get(ExportsRepository).create({ id: randomUUID(), requestedBy: 'test' }));
    const stages: string[] = [];
    let failure: unknown;
    try {
      await resolver.runForTenant(c.id, () =>
        exporter.run(row.id, {
          final: false,
          // The job's progress callback: storage goes down once the rows and files are staged, as the upload starts.
          report: async (progress) => {
            stages.push(progress.stage ?? '');
            if (progress.stage === 'upload') await s3.stop();
          },
        }),
      );
    } catch (error) {
      failure = error;
    } finally {
      await s3.restart();
    }
    expect(failure).toBeDefined();
    expect(stages).toContain('upload');
    const failed = await t.request('GET', `/exports/${row.id}`, { tenant: c.slug });
    expect(failed.body).toMatchObject({ status: 'running', error: { code: 'STORAGE_UNAVAILABLE' }, checksumSha256: null });
    // Only this export's key: the seeded tenant's own export (seedTenantData queues one) may be stored meanwhile.
    const archivesOfThisExport = async () => (await exportObjectsOf(c.id)).filter((key) => key.endsWith(`/${row.id}.tar.gz`));
    expect(await archivesOfThisExport()).toEqual([]);

    // The re-run (what the queue's retry does) starts over from a fresh snapshot and succeeds.
    const done = await resolver.runForTenant(c.id, () => exporter.run(row.id, { final: true }));
    expect(done.status).toBe('succeeded');
    expect(await archivesOfThisExport()).toEqual([`tenants/${c.id}/exports/${row.id}.tar.gz`]);
    const download = await t.request('GET', `/exports/${row.id}/download`, { tenant: c.slug, responseType: 'buffer' });
    expect(download.status).toBe(200);
    expect(createHash('sha256').update(download.body as Buffer).digest('hex')).toBe(done.checksumSha256);
    const manifest = JSON.parse((await unpack(download.body as Buffer)).get('manifest.json')!.toString('utf8'));
    expect(manifest.tables.find((table: { name: string }) => table.name === 'documents').count).toBe(3);
    // A run of a succeeded export changes nothing (a duplicate delivery of the job).
    expect((await resolver.runForTenant(c.id, () => exporter.run(row.id, { final: true }))).checksumSha256).toBe(done.checksumSha256);
  }, 60_000);

  it('platform admin: exports any tenant (202), sees where the archive is, and imports an export in storage by reference', async () => {
    const requested = await t.request('POST', `/tenants/${b.slug}/export`, { admin: true });
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({ tenantId: b.id });
    expect((await t.request('POST', `/tenants/${b.slug}/export`, { tenant: b.slug })).status).toBe(401);
    const done = await until(() => t.request('GET', `/tenants/${b.slug}/exports/${requested.body.id}`, { admin: true }), (r) => r.body.status === 'succeeded', 'platform export');
    expect(done.body.archiveKey).toBe(`tenants/${b.id}/exports/${requested.body.id}.tar.gz`);
    const download = await t.request('GET', `/tenants/${b.slug}/exports/${requested.body.id}/download`, { admin: true, responseType: 'buffer' });
    expect(createHash('sha256').update(download.body as Buffer).digest('hex')).toBe(done.body.checksumSha256);
    const imported = await t.request('POST', `/tenants/import?slug=export-b-copy&name=B%20copy&fromTenant=${b.slug}&exportId=${requested.body.id}`, { admin: true });
    expect(imported.status).toBe(201);
    expect(counts(await rowsOf(imported.body.tenant.id)).documents).toBe(counts(await rowsOf(b.id)).documents);
    // Bad input is a 400, never a 500: both targets at once, a missing body.
    expect((await t.request('POST', `/tenants/import?slug=x-y-z&into=${b.slug}`, { admin: true, rawBody: Buffer.from('x'), headers: { 'content-type': 'application/gzip' } })).status).toBe(400);
    expect((await t.request('POST', '/tenants/import?slug=x-y-z', { admin: true, rawBody: '', headers: { 'content-type': 'application/gzip' } })).status).toBe(400);
  }, 60_000);

  it('offboarding with export=true writes the archive before deleting anything, and the archive outlives the tenant', async () => {
    const d = await seeded('export-d');
    const dRows = counts(await rowsOf(d.id));
    const deleted = await t.request('DELETE', `/tenants/${d.slug}?confirm=${d.slug}&export=true`, { admin: true });
    expect(deleted.status).toBe(202);
    // The answer comes at once (the deletion runs in the background): its report is polled until it settles.
    expect(deleted.body.report).toMatchObject({ status: 'running', exportRequested: true, exportKey: null });
    const report = await settledDeletion(t, deleted.body.id);
    expect(report).toMatchObject({ status: 'completed', exportRequested: true, exportKey: `offboarding-exports/${d.id}/${deleted.body.id}.tar.gz` });
    expect(report.steps.map((step: { name: string; status: string }) => `${step.name}:${step.status}`).slice(0, 3)).toEqual(['suspend:done', 'export:done', 'count-rows:done']);
    expect(Object.values(await rowsOf(d.id)).flat()).toEqual([]);
    const archive = await t.request('GET', `/tenant-deletions/${deleted.body.id}/export`, { admin: true, responseType: 'buffer' });
    expect(archive.status).toBe(200);
    const manifest = JSON.parse((await unpack(archive.body as Buffer)).get('manifest.json')!.toString('utf8'));
    expect(Object.fromEntries(manifest.tables.map((table: { name: string; count: number }) => [table.name, table.count]))).toEqual(dRows);
    expect(manifest.files).toHaveLength(2);
    // Without export=true there is nothing to fetch (409), and a resumed deletion does not export again (checked by the step's note).
    const plain = await seeded('export-e');
    const { accepted: plainDeleted, report: plainReport } = await deleteTenantAndWait(t, plain);
    expect(plainReport).toMatchObject({ status: 'completed' });
    expect(plainReport.steps[1]).toMatchObject({ name: 'export', status: 'skipped' });
    expect((await t.request('GET', `/tenant-deletions/${plainDeleted.body.id}/export`, { admin: true })).status).toBe(409);
  }, 60_000);
});
