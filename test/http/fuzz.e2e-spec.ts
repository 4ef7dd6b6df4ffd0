import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { addMember, createApiKey, invite } from '../identity/identity-fixtures';
import { JobsService } from '../../src/jobs/jobs.service';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { seedSucceededExport, seedTenantData, tenantTables } from '../helpers/isolation-harness';
import { startTestApp, TestApp } from '../helpers/test-app';
import { settledDeletion } from '../helpers/tenant-deletions';
import { dedicatedDatabase, DedicatedDatabase } from '../scale-out/dedicated-helpers';
import { TEST_ADMIN_KEY, TEST_BASE_DOMAIN, TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { checkResponse, CheckContext, envelopeProblems, SQL_FRAGMENTS, STACK_FRAGMENTS } from '../helpers/fuzz/checks';
import { WireClient, WireRequest, WireResponse } from '../helpers/fuzz/client';
import { FuzzWorld, validRequest, ValidBase } from '../helpers/fuzz/generator';
import { Rng, seedFromEnv } from '../helpers/prng';
import { describeFailure, describeReport, runFuzz, shrink } from '../helpers/fuzz/run';
import { discoverRoutes, AppRoute, jsonSchemaOf, routeKey, sampleOf } from '../helpers/app-routes';
import { BAD_PATH_SEGMENTS, BAD_QUERY_VALUES, CONTENT_TYPES, EXTRA_FIELDS, NUMBERISH_STRINGS, UNICODE_STRINGS } from '../helpers/fuzz/values';

/** A valid embedding for the default EMBEDDING_DIMENSION (384). */
const FUZZ_EMBEDDING = Array.from({ length: 384 }, (_, i) => ((i % 7) + 1) / 8);

/**
 * Issue 9 item 8: every route of the running app (found in the Nest container,
 * not listed here) gets malformed requests from a seeded generator, with valid
 * credentials so they reach validation and the handlers. Every answer must be
 * below 500 (or a 503 with Retry-After), every 4xx the error envelope, every
 * 2xx JSON (or a 204 / the download), and no answer may carry SQL, a stack
 * trace or another tenant's ids.
 *
 * FUZZ_SEED replays a run, FUZZ_REQUESTS changes its size (default 10000),
 * FUZZ_ONLY=12,345 sends only those request indexes (of that seed),
 * FUZZ_NO_SHRINK=1 skips shrinking the first 20 failures, FUZZ_PROFILE=1
 * prints where the time went.
 *
 * Failures are reported once per (route, status, reason), the first 20 in
 * full (shrunk request, answer), then one line per kind across routes.
 */

const SEED = seedFromEnv();
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const ONLY = process.env.FUZZ_ONLY?.split(',').map((s) => Number(s.trim())).filter(Number.isInteger);
const CONCURRENCY = 16;

const ok = (response: WireResponse) => response.status >= 200 && response.status < 300;

describe('fuzz checks (positive control: the checker flags bad answers)', () => {
  const request: WireRequest = { method: 'GET', path: '/documents/x', headers: [] };
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): WireResponse => ({
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    ms: 0,
  });
  const envelope = (status: number, message = 'Malformed request') => ({
    error: { code: 'MALFORMED_REQUEST', message },
    statusCode: status,
    requestId: 'r-1',
    timestamp: new Date().toISOString(),
    path: '/documents/x',
  });

  it('passes a proper error envelope, a JSON 2xx, a 204 and a download', () => {
    expect(checkResponse(request, json(400, envelope(400)))).toEqual([]);
    expect(checkResponse(request, json(200, { items: [] }))).toEqual([]);
    expect(checkResponse(request, { status: 204, headers: {}, body: Buffer.alloc(0), ms: 0 })).toEqual([]);
    expect(checkResponse(request, { status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from('bytes'), ms: 0 }, { download: true })).toEqual([]);
    expect(checkResponse(request, json(503, { ...envelope(503), error: { code: 'SERVICE_UNAVAILABLE', message: 'down' } }, { 'retry-after': '1' }))).toEqual([]);
  });

  it("accepts readiness's 503 HealthCheckResult with Retry-After, and nothing else in its place", () => {
    const probe = { ...request, method: 'GET', path: '/health/ready' };
    const notReady = { status: 'error', info: {}, error: { database: { status: 'down' } }, details: { database: { status: 'down' } } };
    expect(checkResponse(probe, json(503, notReady, { 'retry-after': '1' }), { healthProbe: true })).toEqual([]);
    expect(checkResponse(probe, json(503, notReady), { healthProbe: true })).toContain('503 without Retry-After');
    expect(checkResponse(probe, json(503, { oops: true }, { 'retry-after': '1' }), { healthProbe: true })).toContain('not a HealthCheckResult');
    // Only readiness: elsewhere the same body is not the envelope.
    expect(checkResponse(probe, json(503, notReady, { 'retry-after': '1' }))).toContain('not the error envelope');
  });

  it('flags a 500, a 503 without Retry-After, SQL, stack traces, non-envelope and non-JSON bodies, and foreign ids', () => {
    expect(checkResponse(request, json(500, { ...envelope(500), error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } }))).toContain('5xx');
    expect(checkResponse(request, json(503, envelope(503)))).toContain('503 without Retry-After');
    expect(checkResponse(request, json(409, envelope(409, 'insert or update on table "documents" violates foreign key constraint "documents_tenant_fk"')))).toEqual(
      expect.arrayContaining(['sql: "violates"', 'sql: constraint name']),
    );
    expect(checkResponse(request, json(400, envelope(400, 'duplicate key value violates unique constraint "users_email_key"')))).toContain('sql: constraint name');
    expect(checkResponse(request, json(400, envelope(400, 'syntax error at or near "select"')))).toEqual(expect.arrayContaining(['sql: "syntax error"']));
    expect(checkResponse(request, json(400, envelope(400, 'relation "documents" does not exist')))).toContain('sql: relation "');
    expect(checkResponse(request, json(400, envelope(400, 'Error: x\n    at Foo (/app/src/documents/documents.service.ts:12:3)')))).toEqual(
      expect.arrayContaining(['stack: "    at "', 'stack: ".ts:"']),
    );
    expect(checkResponse(request, json(400, envelope(400, 'in /app/node_modules/pg/lib/client.js')))).toContain('stack: node_modules');
    // Fastify's own error body, not the envelope.
    expect(checkResponse(request, json(400, { error: 'Bad Request', message: 'Client Error', statusCode: 400 }))).toContain('not the error envelope');
    expect(envelopeProblems({ error: 'Bad Request', message: 'Client Error', statusCode: 400 }, 400)).toEqual(expect.arrayContaining(['envelope: no error object', 'envelope: no requestId']));
    expect(checkResponse(request, { status: 413, headers: { 'content-type': 'text/plain' }, body: Buffer.from('Payload Too Large'), ms: 0 })).toContain('error body is not JSON');
    expect(checkResponse(request, { status: 431, headers: {}, body: Buffer.alloc(0), ms: 0 })).toContain('error without a body');
    expect(checkResponse(request, json(400, { ...envelope(400), statusCode: 500 }))).toContain('not the error envelope');
    expect(envelopeProblems({ ...envelope(400), statusCode: 500 }, 400)).toEqual(['envelope: statusCode differs from the HTTP status']);
    expect(checkResponse(request, { status: 200, headers: { 'content-type': 'text/html' }, body: Buffer.from('<html>'), ms: 0 })).toContain('2xx body is not JSON');
    const foreign = '11111111-1111-4111-8111-111111111111';
    const context: CheckContext = { foreignIds: new Map([[foreign, 'documents.id']]) };
    expect(checkResponse(request, json(200, { items: [{ id: foreign }] }), context)).toContain("another tenant's id (documents.id)");
    // ...but an id the request itself carried may be echoed (the path in the envelope).
    expect(checkResponse({ ...request, path: `/documents/${foreign}` }, json(404, { ...envelope(404), path: `/documents/${foreign}` }), context)).toEqual([]);
    const unauthenticated = { ...envelope(401), error: { code: 'UNAUTHENTICATED', message: 'no' } };
    expect(checkResponse(request, json(401, unauthenticated))).toEqual(['401 without WWW-Authenticate']);
    expect(checkResponse(request, json(401, unauthenticated, { 'www-authenticate': 'Bearer' }))).toEqual([]);
    const form: WireRequest = { method: 'POST', path: '/documents', headers: [['content-type', 'application/x-www-form-urlencoded']], body: Buffer.from('title=x') };
    expect(checkResponse(form, json(201, { id: 'x' }), { jsonBody: 'POST' })).toEqual(['non-JSON body (application/x-www-form-urlencoded) not refused with 415']);
    expect(checkResponse(form, json(400, { ...envelope(400), error: { code: 'VALIDATION_FAILED', message: 'x' } }), { jsonBody: 'POST' })).toHaveLength(1);
    expect(checkResponse({ ...form, method: 'GET' }, json(200, { items: [] }), { jsonBody: 'POST' })).toEqual([]);
    expect(checkResponse(form, json(415, { ...envelope(415), error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'x' } }), { jsonBody: 'POST' })).toEqual([]);
    expect(checkResponse(request, { status: 0, headers: {}, body: Buffer.alloc(0), error: 'ECONNRESET: socket hang up', ms: 0 })).toEqual(['no response (ECONNRESET)']);
  });

  it('the hostile corpus itself contains nothing the leak scans look for (stored values come back in lists)', () => {
    const corpus = [...UNICODE_STRINGS, ...NUMBERISH_STRINGS, ...BAD_PATH_SEGMENTS, ...BAD_QUERY_VALUES, ...EXTRA_FIELDS, ...CONTENT_TYPES];
    for (const value of corpus) {
      for (const [reason, pattern] of [...SQL_FRAGMENTS, ...STACK_FRAGMENTS]) {
        if (pattern.test(value)) throw new Error(`corpus value ${JSON.stringify(value)} matches ${reason}`);
      }
    }
  });
});

describe('fuzz: malformed requests to every route', () => {
  let t: TestApp;
  let dataDir: string;
  let routes: AppRoute[];
  let world: FuzzWorld;
  const foreignIds = new Map<string, string>();
  /** Params of a route's valid request (ids of the fuzzing tenant's rows); DELETE positive controls use their own rows. */
  const params: Record<string, Record<string, string>> = {};
  const deleteParams: Record<string, Record<string, string>> = {};
  /** DELETE /tenants/:idOrSlug needs ?confirm=<its slug>: the fuzz run's tenant, and the positive control's. */
  const confirmSlugs = { params: '', forDelete: '' };
  /** POST /tenants/import's valid request: an export already in storage, by reference (no body). */
  const importSource = { tenant: '', exportId: '' };
  /** POST routes that take no body at all (not JSON, not an upload). */
  const NO_BODY = new Set(['POST /exports', 'POST /tenants/:idOrSlug/export', 'POST /tenants/import', 'POST /tenant-moves/:id/abort']);
  let acceptToken = '';
  /** A dedicated database a tenant can be moved to (POST /tenants/:idOrSlug/move). */
  let dedicated: DedicatedDatabase;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'tenancy-fuzz-'));
    dedicated = dedicatedDatabase('fuzz');
    t = await startTestApp({ DATA_DIR: dataDir, TENANT_DATABASES: JSON.stringify({ big1: dedicated.settings }) });
    const own = await t.createTenant('fuzz-own');
    const victim = await t.createTenant('fuzz-victim');
    const target = await t.createTenant('fuzz-target');
    // Offboarding: a tenant the fuzz run may delete, one the DELETE positive control deletes, and a finished deletion's report.
    const doomedTenant = await t.createTenant('fuzz-doomed-tenant', { owner: undefined });
    const lastTenant = await t.createTenant('fuzz-last-tenant', { owner: undefined });
    const goneTenant = await t.createTenant('fuzz-gone-tenant', { owner: undefined });
    // With export=true: its archive is what GET /tenant-deletions/:id/export serves.
    const gone = await t.request('DELETE', `/tenants/${goneTenant.slug}?confirm=${goneTenant.slug}&export=true`, { admin: true });
    if (gone.status !== 202) throw new Error(`fuzz setup: DELETE /tenants -> ${gone.status} ${JSON.stringify(gone.body)}`);
    // It runs in the background: settled before the fuzz run uses its report and archive.
    const goneReport = await settledDeletion(t, gone.body.id);
    if (goneReport.status !== 'completed') throw new Error(`fuzz setup: the deletion ended ${JSON.stringify(goneReport)}`);
    // Moves: a tenant the move's positive control moves, and a move's report (its job stays queued: no worker).
    const movingTenant = await t.createTenant('fuzz-moving-tenant', { owner: undefined });
    // Created on big1: provisions it (GET /me asks every registered database), and moved back by the setup's move.
    const movedTenant = await t.createTenant('fuzz-moved-tenant', { owner: undefined, database: 'big1' });
    const move = await t.request('POST', `/tenants/${movedTenant.slug}/move`, { admin: true, body: { to: 'shared' } });
    if (move.status !== 202) throw new Error(`fuzz setup: POST /tenants/:idOrSlug/move -> ${move.status} ${JSON.stringify(move.body)}`);
    confirmSlugs.params = doomedTenant.slug;
    confirmSlugs.forDelete = lastTenant.slug;
    const fuzzPlan = await t.request('PUT', '/plans/fuzz-plan', {
      admin: true,
      body: { name: 'Fuzz', features: [], limits: { documents: null, storage_bytes: null, members: null, api_keys: null, requests_per_minute: null } },
    });
    if (fuzzPlan.status !== 201) throw new Error(`PUT /plans/fuzz-plan -> ${fuzzPlan.status}`);
    await seedTenantData(t, victim.slug);

    const tenant = own.slug;
    const post = async (url: string, body: unknown, status = 201) => {
      const response = await t.request('POST', url, { tenant, body });
      if (response.status !== status) throw new Error(`fuzz setup: POST ${url} -> ${response.status} ${JSON.stringify(response.body)}`);
      return response.body;
    };
    const upload = async (docId: string) => {
      const response = await t.request('POST', `/documents/${docId}/attachments?filename=fuzz-seed.txt`, { tenant, rawBody: 'fuzz seed bytes', headers: { 'content-type': 'text/plain' } });
      if (response.status !== 201) throw new Error(`fuzz setup: upload -> ${response.status} ${JSON.stringify(response.body)}`);
      return response.body.id as string;
    };
    const doc = await post('/documents', { title: 'fuzz doc', body: 'fuzz body', tags: ['fuzz'] });
    // Semantic search: an embedding on the document (EMBEDDING_DIMENSION is the default 384), and one the DELETE control removes.
    const putEmbedding = async (docId: string) => {
      const response = await t.request('PUT', `/documents/${docId}/embedding`, { tenant, body: { embedding: FUZZ_EMBEDDING } });
      if (response.status !== 201) throw new Error(`fuzz setup: PUT embedding -> ${response.status} ${JSON.stringify(response.body)}`);
    };
    await putEmbedding(doc.id);
    const doomedEmbedding = await post('/documents', { title: 'doomed embedding' });
    await putEmbedding(doomedEmbedding.id);
    const comment = await post(`/documents/${doc.id}/comments`, { body: 'fuzz comment' });
    const attachment = await upload(doc.id);
    const liveKey = await createApiKey(t, tenant, 'viewer');
    const liveInvitation = await invite(t, tenant, 'live-invitee@fuzz.test', 'viewer');
    const patchedMember = await addMember(t, tenant, 'member', 'patched-member@fuzz.test');
    // Rows the DELETE positive controls remove (the fuzz run never deletes own rows: see generate()).
    const doomedDoc = await post('/documents', { title: 'doomed doc' });
    const doomedComment = await post(`/documents/${doc.id}/comments`, { body: 'doomed comment' });
    const doomedAttachment = await upload(doc.id);
    const doomedKey = await createApiKey(t, tenant, 'viewer');
    const doomedInvitation = await invite(t, tenant, 'doomed-invitee@fuzz.test', 'viewer');
    const doomedMember = await addMember(t, tenant, 'viewer', 'doomed-member@fuzz.test');
    acceptToken = (await invite(t, tenant, 'accepting@fuzz.test', 'viewer')).token;
    // A background job (no route creates one; the test app runs no worker, so it stays queued).
    const jobs = t.app.get(JobsService);
    jobs.register('fuzz.seed', async () => ({}));
    const job = await t.app.get(TenantResolver).runForTenant(own.id, () => jobs.enqueue('fuzz.seed', {}));
    // A succeeded export (no worker runs here: written in-process), for the export routes and the import by reference.
    const ownExport = { id: await seedSucceededExport(t, own.id) };
    // Two more, for the DELETE positive controls (the tenant's and the platform admin's route).
    const doomedExport = await seedSucceededExport(t, own.id);
    const doomedPlatformExport = await seedSucceededExport(t, own.id);
    importSource.tenant = own.id;
    importSource.exportId = ownExport.id;

    Object.assign(params, {
      'DELETE /api-keys/:id': { id: liveKey.id },
      'GET /documents/:id': { id: doc.id },
      'GET /jobs/:id': { id: job.id },
      'PUT /documents/:id/embedding': { id: doc.id },
      'GET /documents/:id/embedding': { id: doc.id },
      'DELETE /documents/:id/embedding': { id: doc.id },
      'PATCH /documents/:id': { id: doc.id },
      'DELETE /documents/:id': { id: doc.id },
      'POST /documents/:id/comments': { id: doc.id },
      'GET /documents/:id/comments': { id: doc.id },
      'DELETE /documents/:id/comments/:commentId': { id: doc.id, commentId: comment.id },
      'POST /documents/:id/attachments': { id: doc.id },
      'GET /documents/:id/attachments': { id: doc.id },
      'GET /documents/:id/attachments/:attachmentId': { id: doc.id, attachmentId: attachment },
      'GET /documents/:id/attachments/:attachmentId/content': { id: doc.id, attachmentId: attachment },
      'GET /documents/:id/attachments/:attachmentId/download-url': { id: doc.id, attachmentId: attachment },
      'DELETE /documents/:id/attachments/:attachmentId': { id: doc.id, attachmentId: attachment },
      'DELETE /members/invitations/:id': { id: liveInvitation.id },
      'PATCH /members/:userId': { userId: patchedMember.userId },
      'DELETE /members/:userId': { userId: patchedMember.userId },
      'GET /tenants/:idOrSlug': { idOrSlug: target.id },
      'PATCH /tenants/:idOrSlug': { idOrSlug: target.slug },
      'POST /tenants/:idOrSlug/owner-invitations': { idOrSlug: target.id },
      'PUT /tenants/:idOrSlug/plan': { idOrSlug: target.id },
      'DELETE /tenants/:idOrSlug': { idOrSlug: doomedTenant.slug },
      'GET /tenant-deletions/:id': { id: gone.body.id },
      'POST /tenants/:idOrSlug/move': { idOrSlug: movingTenant.id },
      'GET /tenant-moves/:id': { id: move.body.id },
      // Its job stays queued (no worker): the abort ends it at once (200), and again returns it (idempotent).
      'POST /tenant-moves/:id/abort': { id: move.body.id },
      'GET /tenant-deletions/:id/export': { id: gone.body.id },
      'GET /exports/:id': { id: ownExport.id },
      'DELETE /exports/:id': { id: ownExport.id },
      'DELETE /tenants/:idOrSlug/exports/:id': { idOrSlug: own.id, id: ownExport.id },
      'GET /exports/:id/download': { id: ownExport.id },
      'POST /tenants/:idOrSlug/export': { idOrSlug: target.id },
      'GET /tenants/:idOrSlug/exports/:id': { idOrSlug: own.id, id: ownExport.id },
      'GET /tenants/:idOrSlug/exports/:id/download': { idOrSlug: own.id, id: ownExport.id },
      // Its own plan: the fuzz must not rewrite the plans other tests' tenants are on.
      'GET /plans/:id': { id: 'fuzz-plan' },
      'PUT /plans/:id': { id: 'fuzz-plan' },
    });
    Object.assign(deleteParams, {
      'DELETE /api-keys/:id': { id: doomedKey.id },
      'DELETE /documents/:id': { id: doomedDoc.id },
      'DELETE /documents/:id/embedding': { id: doomedEmbedding.id },
      'DELETE /documents/:id/comments/:commentId': { id: doc.id, commentId: doomedComment.id },
      'DELETE /documents/:id/attachments/:attachmentId': { id: doc.id, attachmentId: doomedAttachment },
      'DELETE /members/invitations/:id': { id: doomedInvitation.id },
      'DELETE /members/:userId': { userId: doomedMember.userId },
      'DELETE /tenants/:idOrSlug': { idOrSlug: lastTenant.id },
      'DELETE /exports/:id': { id: doomedExport },
      'DELETE /tenants/:idOrSlug/exports/:id': { idOrSlug: own.id, id: doomedPlatformExport },
    });

    // Another tenant's ids: every UUID in its rows (read from the catalog's tenant tables), and the tenant id.
    const client = new pg.Client({ connectionString: t.db.superuserUrl });
    await client.connect();
    try {
      const ownIds = new Set<string>();
      const victimIds = new Map<string, string>([[victim.id, 'tenants.id']]);
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
      for (const table of await tenantTables(client)) {
        const { rows } = await client.query(`select * from "${table}" where tenant_id = any($1::uuid[])`, [[victim.id, own.id]]);
        for (const row of rows) {
          for (const [column, value] of Object.entries(row)) {
            if (typeof value !== 'string' || !uuid.test(value) || column === 'tenant_id') continue;
            if (row.tenant_id === own.id) ownIds.add(value.toLowerCase());
            else if (!victimIds.has(value.toLowerCase())) victimIds.set(value.toLowerCase(), `${table}.${column}`);
          }
        }
      }
      for (const [id, source] of victimIds) if (!ownIds.has(id)) foreignIds.set(id, source);
    } finally {
      await client.end();
    }
    if (foreignIds.size < 10) throw new Error(`fuzz setup: only ${foreignIds.size} ids of the other tenant`);

    routes = discoverRoutes(t.app);
    world = {
      baseUrl: t.baseUrl,
      tenant: { id: own.id, slug: own.slug, token: t.tokenFor(own.slug)! },
      victim: { id: victim.id, slug: victim.slug },
      adminKey: TEST_ADMIN_KEY,
      victimIds: [...foreignIds.keys()],
      baseDomain: TEST_BASE_DOMAIN,
    };
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await dedicated?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** The valid request of a route; `unique` keeps slugs and emails of creating requests apart. */
  const validBase = (route: AppRoute, rng: Rng, unique: number | string, forDelete = false): ValidBase => {
    const key = routeKey(route);
    const headers: Array<[string, string]> = [];
    switch (route.access) {
      case 'tenant':
        headers.push(['x-tenant-id', rng.chance(0.5) ? world.tenant.slug : world.tenant.id], ['authorization', `Bearer ${world.tenant.token}`]);
        break;
      case 'tenant-sign-in':
        headers.push(['x-tenant-id', rng.chance(0.5) ? world.tenant.slug : world.tenant.id]);
        break;
      case 'platform-admin':
        headers.push(['authorization', `Bearer ${world.adminKey}`]);
        break;
      default:
        break;
    }
    const query: Array<[string, string]> = [];
    const tag = `${SEED.toString(36)}-${unique}`;
    const hints: Record<string, unknown> = {
      'POST /auth/login': { email: 'owner@fuzz-own.test', password: TEST_OWNER_PASSWORD },
      'POST /auth/accept-invitation': { token: acceptToken, password: 'fuzz-password-123', name: 'Fuzz Accepting' },
      'POST /auth/switch-tenant': { tenant: world.tenant.id },
      'POST /tenants': { slug: `fz-${tag}`, name: `Fuzz ${tag}` },
      'PATCH /tenants/:idOrSlug': { name: `Fuzz target ${tag}` },
      'POST /tenants/:idOrSlug/owner-invitations': { email: `owner-${tag}@fuzz.test` },
      'PUT /tenants/:idOrSlug/plan': { plan: 'enterprise' },
      'POST /tenants/:idOrSlug/move': { to: 'big1' },
      'PUT /plans/:id': {
        name: `Fuzz ${tag}`,
        features: ['attachments'],
        limits: { documents: null, storage_bytes: null, members: null, api_keys: null, requests_per_minute: null },
      },
      'POST /members': { email: `invitee-${tag}@fuzz.test`, role: 'viewer' },
      'PATCH /members/:userId': { role: 'member' },
      'POST /api-keys': { name: `fuzz key ${tag}`, role: 'viewer' },
      'POST /documents': { title: `fuzz ${tag}`, body: 'fuzz body', tags: ['fuzz'] },
      'PATCH /documents/:id': { title: `fuzz ${tag}` },
      'PUT /documents/:id/embedding': { embedding: FUZZ_EMBEDDING },
      'POST /documents/search': { vector: FUZZ_EMBEDDING, k: 5 },
    };
    // Routes whose query has a required field: a valid value (the mutations then break it).
    if (key === 'GET /usage/export') query.push(['period', new Date().toISOString().slice(0, 7)]);
    if (key === 'DELETE /tenants/:idOrSlug') query.push(['confirm', forDelete ? confirmSlugs.forDelete : confirmSlugs.params]);
    if (key === 'POST /tenants/import') query.push(['slug', `fz-imp-${tag}`], ['fromTenant', importSource.tenant], ['exportId', importSource.exportId]);
    const base: ValidBase = { params: (forDelete ? deleteParams[key] : undefined) ?? params[key] ?? {}, query, headers };
    for (const param of route.params) if (!(param in base.params)) throw new Error(`fuzz: no valid value for :${param} of ${key}; add it to the setup`);
    if (route.hasBody) base.json = key in hints ? hints[key] : sampleOf(jsonSchemaOf(route.bodySchema), '', tag) ?? {};
    else if (['POST', 'PUT', 'PATCH'].includes(route.method) && !NO_BODY.has(key)) {
      // Uploads: raw bytes, file name in the query.
      query.push(['filename', `fuzz-${tag}.txt`]);
      base.raw = { bytes: Buffer.from(`fuzz upload ${tag}\n`), contentType: 'text/plain' };
    }
    return base;
  };

  const checkContext = (route: AppRoute): CheckContext => ({
    // Not JSON by design: a file's bytes, the Prometheus text of /metrics (admin key only), and the Swagger UI
    // page and its assets (HTML, JS, CSS, an icon: shipped files, not API answers; GET /openapi.json is JSON).
    healthProbe: route.method === 'GET' && route.path === '/health/ready',
    download: route.method === 'GET' && (route.path.endsWith('/content') || route.path.endsWith('/download') || route.path.endsWith('/export') || route.path === '/metrics' || route.path === '/docs' || route.path.startsWith('/docs/')),
    jsonBody: route.hasBody ? route.method : undefined,
    foreignIds,
    // Platform administration lists every tenant: their ids are its data; no other tenant's rows are.
    allowedForeignIds: route.access === 'platform-admin' ? new Set([world.victim.id]) : undefined,
  });

  it('finds routes of every access kind, with their schemas', () => {
    const kinds = new Set(routes.map((r) => r.access));
    expect([...kinds].sort()).toEqual(['platform-admin', 'public', 'tenant', 'tenant-sign-in']);
    expect(routes.length).toBeGreaterThanOrEqual(30);
    expect(routes.filter((r) => r.bodySchema).length).toBeGreaterThanOrEqual(10);
    expect(routes.filter((r) => r.querySchema).length).toBeGreaterThanOrEqual(5);
    expect(routes.filter((r) => r.paramsSchema).length).toBeGreaterThanOrEqual(10);
  });

  it(`sends ${REQUESTS} malformed requests (seed ${SEED}): no 5xx, the envelope on every 4xx, no SQL, stack or other tenant's ids`, async () => {
    console.log(`fuzz: seed ${SEED} (FUZZ_SEED=${SEED} replays), ${REQUESTS} requests, concurrency ${CONCURRENCY}`);
    const client = new WireClient(t.baseUrl, 4);
    const controls: string[] = [];
    const control = async (route: AppRoute, forDelete: boolean) => {
      const wire = validRequest(route, validBase(route, new Rng(SEED), `control-${routes.indexOf(route)}`, forDelete));
      const response = await client.send(wire);
      const reasons = checkResponse(wire, response, checkContext(route));
      if (!ok(response) || reasons.length) {
        controls.push(describeFailure({ key: routeKey(route), route: routeKey(route), status: response.status, reason: ok(response) ? reasons.join(', ') : 'positive control not 2xx', count: 1, index: -1, mutations: [], request: wire, response }));
      }
    };
    try {
      // Positive controls: one valid request per route answers 2xx (so the fuzz reaches past the guard). Deletes last, deepest first.
      for (const route of routes.filter((r) => r.method !== 'DELETE')) await control(route, false);

      const report = await runFuzz({
        seed: SEED,
        requests: REQUESTS,
        only: ONLY?.length ? ONLY : undefined,
        concurrency: CONCURRENCY,
        routes,
        // Sign-in routes verify passwords (argon2, ~40 ms of CPU each): fewer of them.
        weight: (route) => (route.access === 'tenant-sign-in' ? 0.5 : 1),
        world,
        base: (route, rng, index) => validBase(route, rng, index),
        context: checkContext,
      });

      // The first 20 distinct failures, shrunk to the headers/query/body that still make them fail.
      if (!process.env.FUZZ_NO_SHRINK) {
        for (const failure of report.failures.slice(0, 20)) {
          const route = routes.find((r) => routeKey(r) === failure.route)!;
          failure.minimal = await shrink(client, failure, checkContext(route));
        }
      }

      const deletes = routes.filter((r) => r.method === 'DELETE').sort((a, b) => b.params.length - a.params.length || b.path.length - a.path.length);
      for (const route of deletes) await control(route, true);

      const summary = [...report.statuses]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([route, byStatus]) => `  ${route}: ${[...byStatus].sort(([a], [b]) => a - b).map(([s, n]) => `${s}x${n}`).join(' ')}`)
        .join('\n');
      console.log(`${describeReport(report)}\n\nstatuses by route:\n${summary}`);
      if (process.env.FUZZ_PROFILE) {
        const slowest = [...report.timings].sort(([, a], [, b]) => b.ms - a.ms).slice(0, 40);
        console.log(slowest.map(([label, { count, ms }]) => `${String(ms).padStart(8)} ms ${String(count).padStart(6)}x ${Math.round(ms / count).toString().padStart(5)} ms/req  ${label}`).join('\n'));
      }

      const problems = [
        ...controls.map((c) => `POSITIVE CONTROL FAILED: ${c}`),
        ...(report.failures.length ? [describeReport(report)] : []),
      ];
      if (!ONLY?.length) {
        expect(report.requests).toBeGreaterThanOrEqual(Math.min(REQUESTS, 10_000));
        const fuzzed = new Set(report.statuses.keys());
        expect(routes.filter((r) => !fuzzed.has(routeKey(r))).map(routeKey)).toEqual([]);
      }
      if (problems.length) throw new Error(`fuzz seed ${SEED}:\n${problems.join('\n\n')}`);
    } finally {
      client.close();
    }
  }, 180_000);
});
