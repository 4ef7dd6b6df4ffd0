import { Controller, Get } from '@nestjs/common';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PublicRoute } from '../../src/access/route-access.decorator';
import { discoverRoutes, routeKey } from '../helpers/app-routes';
import { startTestApp, TestApp } from '../helpers/test-app';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';

/**
 * Issue 11 item 3: GET /openapi.json is generated from the routes Nest registered and the
 * zod schemas their pipes validate with. Checked against the app itself: every route (found
 * by the test helper, independently of the builder) is in the document, the document is valid
 * OpenAPI 3.1 (@seriousme/openapi-schema-validator), each operation carries its access, and
 * a body schema in the document accepts and refuses what the API accepts and refuses.
 */

/** A route no one declared: the document must still show it, and the check below must name it. */
@PublicRoute()
@Controller('openapi-probe')
class UndeclaredProbeController {
  @Get()
  probe() {
    return { ok: true };
  }
}

/** Static assets of the /docs page, left out on purpose (@NotInApiContract): not part of the API. */
const NOT_IN_CONTRACT = ['GET /docs/favicon-32x32.png', 'GET /docs/swagger-initializer.js', 'GET /docs/swagger-ui-bundle.js', 'GET /docs/swagger-ui.css'];
/** Routes allowed to lack @ApiOperation: none. */
const UNDECLARED_ALLOWED: string[] = [];

type Doc = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

const operationsOf = (doc: Doc) =>
  Object.entries<Record<string, Doc>>(doc.paths ?? {}).flatMap(([p, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ key: `${method.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`, operation })),
  );

/** "<route> missing" / "<operation> not a route" for every difference between the app's routes and the document. */
function coverageProblems(routes: string[], doc: Doc): string[] {
  const documented = new Set(operationsOf(doc).map((o) => o.key));
  const registered = new Set(routes);
  return [...routes.filter((r) => !documented.has(r)).map((r) => `${r} missing from the document`), ...[...documented].filter((d) => !registered.has(d)).map((d) => `${d} is not a route`)];
}

async function validateOpenApi(doc: Doc): Promise<{ valid: boolean; output: string }> {
  // The validator is an ES module that reads its schemas through import.meta: run its own CLI in a child Node.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-'));
  const file = path.join(dir, 'openapi.json');
  writeFileSync(file, JSON.stringify(doc));
  const cli = path.join(path.dirname(require.resolve('@seriousme/openapi-schema-validator/package.json')), 'bin', 'validate-api-cli.js');
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [cli, file]);
    return { valid: true, output: stdout };
  } catch (error) {
    return { valid: false, output: String((error as { stdout?: string }).stdout ?? error) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(['fastify', 'express'] as const)('OpenAPI document (%s)', (adapter) => {
  let t: TestApp;
  let doc: Doc;
  let routes: string[];
  const tenant = `oa-${adapter}`;

  beforeAll(async () => {
    t = await startTestApp({ HTTP_ADAPTER: adapter }, { imports: [{ module: class ProbeModule {}, controllers: [UndeclaredProbeController] }] });
    await t.createTenant(tenant);
    const response = await t.request('GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    doc = response.body;
    routes = discoverRoutes(t.app).map(routeKey);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is public: no credential, no tenant', async () => {
    const response = await t.request('GET', '/openapi.json', { auth: false });
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
  });

  it('documents every registered route, and nothing else', () => {
    // Positive control: the comparison sees a route taken out of the document, and one added.
    const trimmed = structuredClone(doc);
    delete trimmed.paths['/documents/{id}'].get;
    trimmed.paths['/ghost'] = { get: { responses: {} } };
    expect(coverageProblems(routes.filter((r) => !NOT_IN_CONTRACT.includes(r)), trimmed)).toEqual(['GET /documents/:id missing from the document', 'GET /ghost is not a route']);

    expect(routes.length).toBeGreaterThanOrEqual(35);
    expect(routes).toEqual(expect.arrayContaining(NOT_IN_CONTRACT));
    expect(coverageProblems(routes.filter((r) => !NOT_IN_CONTRACT.includes(r)), doc)).toEqual([]);
  });

  it('has a declared operation (@ApiOperation) for every route but the allowed ones', () => {
    const undeclared = operationsOf(doc)
      .filter((o) => o.operation['x-undeclared'])
      .map((o) => o.key)
      .sort();
    // The probe (positive control) is found; every route of the application itself is declared.
    expect(undeclared).toEqual(['GET /openapi-probe', ...UNDECLARED_ALLOWED].sort());
  });

  it('gives every operation a unique operationId', () => {
    const ids = operationsOf(doc).map((o) => o.operation.operationId);
    expect(ids).toContain('documents.get');
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('validates as OpenAPI 3.1', async () => {
    // Positive control: the validator refuses a broken document.
    const broken = await validateOpenApi({ ...doc, info: undefined, paths: { '/x': { get: { responses: 'none' } } } });
    expect(broken.valid).toBe(false);
    const result = await validateOpenApi(doc);
    expect(result.output).toMatch(/"valid": true/);
    expect(result.valid).toBe(true);
  });

  it('shows each route\'s access: security scheme, x-tenant-id, role', () => {
    const byKey = new Map(operationsOf(doc).map((o) => [o.key, o.operation]));
    const all = discoverRoutes(t.app).filter((r) => !NOT_IN_CONTRACT.includes(routeKey(r)));
    expect(new Set(all.map((r) => r.access))).toEqual(new Set(['tenant', 'tenant-sign-in', 'platform-admin', 'public']));
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['adminKey', 'apiKey', 'bearerJwt']);
    for (const route of all) {
      const operation = byKey.get(routeKey(route))!;
      const tenantHeader = (operation.parameters ?? []).some((p: Doc) => p.in === 'header' && p.name === 'x-tenant-id');
      const expected = {
        tenant: { security: [{ bearerJwt: [] }, { apiKey: [] }], tenantHeader: true },
        'tenant-sign-in': { security: [], tenantHeader: true },
        'platform-admin': { security: [{ adminKey: [] }], tenantHeader: false },
        public: { security: [], tenantHeader: false },
      }[route.access!];
      expect({ route: routeKey(route), security: operation.security, tenantHeader }).toEqual({ route: routeKey(route), ...expected });
      if (route.access === 'tenant') expect(operation['x-minimum-role']).toMatch(/^(viewer|member|admin|owner)$/);
    }
  });

  it('declares every path parameter, and the query parameters from the query schema', () => {
    for (const { key, operation } of operationsOf(doc)) {
      const inPath = [...key.matchAll(/:(\w+)/g)].map((m) => m[1]).sort();
      const declared = (operation.parameters ?? []).filter((p: Doc) => p.in === 'path').map((p: Doc) => p.name).sort();
      expect({ key, declared }).toEqual({ key, declared: inPath });
    }
    const list = operationsOf(doc).find((o) => o.key === 'GET /documents')!.operation;
    expect(list.parameters.filter((p: Doc) => p.in === 'query').map((p: Doc) => p.name).sort()).toEqual(['cursor', 'limit', 'tag']);
  });

  it('answers errors with the shared envelope, narrowed to the codes the route can return', () => {
    expect(doc.components.schemas.ErrorEnvelope.properties.error.properties.code.enum).toContain('LAST_OWNER');
    const responses = (key: string) => operationsOf(doc).find((o) => o.key === key)!.operation.responses;
    const codes = (key: string, status: string) => responses(key)[status].content['application/json'].schema.allOf[1].properties.error.properties.code.enum;
    for (const { operation } of operationsOf(doc)) {
      const errors = Object.keys(operation.responses).filter((s) => Number(s) >= 400);
      expect(errors).toContain('500');
      for (const status of errors) expect(operation.responses[status].content['application/json'].schema.allOf[0]).toEqual({ $ref: '#/components/schemas/ErrorEnvelope' });
    }
    expect(codes('PATCH /members/:userId', '409')).toEqual(expect.arrayContaining(['ACCESS_CHANGED', 'LAST_OWNER']));
    expect(codes('GET /documents/:id', '401')).toEqual(['UNAUTHENTICATED']);
    expect(codes('GET /documents/:id', '403')).toEqual(expect.arrayContaining(['INSUFFICIENT_ROLE', 'TENANT_ACCESS_DENIED', 'TENANT_SUSPENDED']));
    expect(codes('GET /documents/:id', '404')).toEqual(expect.arrayContaining(['NOT_FOUND', 'TENANT_NOT_FOUND']));
    expect(codes('POST /documents', '415')).toEqual(['UNSUPPORTED_MEDIA_TYPE']);
    expect(codes('POST /auth/login', '401')).toEqual(['INVALID_CREDENTIALS']);
    expect(codes('POST /auth/login', '429')).toEqual(['TOO_MANY_REQUESTS']);
    expect(responses('GET /documents/:id')['401'].headers['WWW-Authenticate']).toBeDefined();
    // Public routes that read no input: no 400, no 401.
    expect(Object.keys(responses('GET /openapi.json')).sort()).toEqual(['200', '500']);
  });

  describe('a request body schema matches what the pipe accepts and refuses', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    let validBody: (value: unknown) => boolean;
    let validDocument: (value: unknown) => boolean;

    beforeAll(() => {
      // The document's components under its own id, so the operation schemas' $refs resolve.
      ajv.addSchema({ $id: 'openapi', components: doc.components }, 'openapi');
      const withRefs = (schema: Doc) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'));
      const create = operationsOf(doc).find((o) => o.key === 'POST /documents')!.operation;
      validBody = ajv.compile(withRefs(create.requestBody.content['application/json'].schema));
      validDocument = ajv.compile(withRefs(create.responses['201'].content['application/json'].schema));
    });

    it.each([
      ['a title only', { title: 'From the contract' }],
      ['every field', { title: 'Full', body: 'text', tags: ['a', 'b'] }],
    ])('accepted by both: %s (positive control)', async (_what, body) => {
      expect(validBody(body)).toBe(true);
      const response = await t.request('POST', '/documents', { tenant, body });
      expect(response.status).toBe(201);
      // ...and the answer is what the document says a 201 carries.
      expect(validDocument(response.body)).toBe(true);
    });

    it.each([
      ['no title', { body: 'text' }],
      ['an empty title', { title: '' }],
      ['a tenant id (unknown field)', { title: 'x', tenantId: '00000000-0000-4000-8000-000000000000' }],
      ['tags that are not a list', { title: 'x', tags: 'a' }],
      ['a title over 300 characters', { title: 'x'.repeat(301) }],
    ])('refused by both: %s', async (_what, body) => {
      expect(validBody(body)).toBe(false);
      const response = await t.request('POST', '/documents', { tenant, body });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('a response that does not match is refused by the response schema (positive control)', () => {
      expect(validDocument({ id: 'not-a-uuid', title: 1 })).toBe(false);
    });
  });

  describe('real answers match the documented success schemas', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    /** The ajv errors of `body` against the documented `status` answer of `key` (null when it conforms). */
    let problemsOf: (key: string, status: number, body: unknown) => unknown;

    beforeAll(() => {
      ajv.addSchema({ $id: 'openapi', components: doc.components }, 'openapi');
      const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
      problemsOf = (key, status, body) => {
        const operation = operationsOf(doc).find((o) => o.key === key)?.operation;
        const schema = operation?.responses[String(status)]?.content?.['application/json']?.schema;
        if (!schema) return `no JSON ${status} documented for ${key}`;
        const id = `${key} ${status}`;
        if (!compiled.has(id)) compiled.set(id, ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'))));
        const validate = compiled.get(id)!;
        return validate(body) ? null : validate.errors;
      };
    });

    it('flags an answer with a field the schema does not have, or a wrong value (positive control)', async () => {
      const me = await t.request('GET', '/me', { tenant });
      expect(problemsOf('GET /me', 200, me.body)).toBeNull();
      expect(problemsOf('GET /me', 200, { ...me.body, passwordHash: 'x' })).not.toBeNull();
      expect(problemsOf('GET /me', 200, { ...me.body, role: 'superuser' })).not.toBeNull();
    });

    it('for the main routes of every area', async () => {
      const answers: Array<[string, number, unknown]> = [];
      const call = async (method: string, url: string, key: string, options: Parameters<TestApp['request']>[2] = {}) => {
        const response = await t.request(method, url, options);
        answers.push([key, response.status, response.body]);
        return response.body;
      };
      const created = await call('POST', '/documents', 'POST /documents', { tenant, body: { title: 'answers', tags: ['x'] } });
      await call('GET', '/documents?limit=5', 'GET /documents', { tenant });
      await call('GET', `/documents/${created.id}`, 'GET /documents/:id', { tenant });
      await call('PATCH', `/documents/${created.id}`, 'PATCH /documents/:id', { tenant, body: { title: 'changed' } });
      await call('POST', `/documents/${created.id}/comments`, 'POST /documents/:id/comments', { tenant, body: { body: 'a comment' } });
      await call('GET', `/documents/${created.id}/comments`, 'GET /documents/:id/comments', { tenant });
      const file = await call('POST', `/documents/${created.id}/attachments?filename=a.txt`, 'POST /documents/:id/attachments', {
        tenant,
        rawBody: 'bytes',
        headers: { 'content-type': 'text/plain' },
      });
      await call('GET', `/documents/${created.id}/attachments`, 'GET /documents/:id/attachments', { tenant });
      await call('GET', `/documents/${created.id}/attachments/${file.id}`, 'GET /documents/:id/attachments/:attachmentId', { tenant });
      await call('GET', `/documents/${created.id}/attachments/${file.id}/download-url`, 'GET /documents/:id/attachments/:attachmentId/download-url', { tenant });
      await call('GET', '/me', 'GET /me', { tenant });
      const key = await call('POST', '/api-keys', 'POST /api-keys', { tenant, body: { name: 'contract', role: 'viewer' } });
      await call('GET', '/api-keys', 'GET /api-keys', { tenant });
      await call('GET', '/me', 'GET /me', { tenant, auth: key.key });
      await call('GET', '/members', 'GET /members', { tenant });
      await call('POST', '/members', 'POST /members', { tenant, body: { email: `invitee-${adapter}@contract.test`, role: 'member' } });
      await call('GET', '/members/invitations', 'GET /members/invitations', { tenant });
      await call('POST', '/auth/login', 'POST /auth/login', { tenant, auth: false, body: { email: `owner@${tenant}.test`, password: TEST_OWNER_PASSWORD } });
      await call('GET', '/tenants', 'GET /tenants', { admin: true });
      await call('GET', '/health', 'GET /health', {});
      await call('GET', '/health/live', 'GET /health/live', {});
      await call('GET', '/health/ready', 'GET /health/ready', {});
      await call('GET', '/health/details', 'GET /health/details', { admin: true });
      await call('GET', `/tenants/${tenant}`, 'GET /tenants/:idOrSlug', { admin: true });
      await call('PATCH', `/tenants/${tenant}`, 'PATCH /tenants/:idOrSlug', { admin: true, body: { name: 'Renamed' } });
      await call('POST', `/tenants/${tenant}/owner-invitations`, 'POST /tenants/:idOrSlug/owner-invitations', { admin: true, body: { email: `next-owner-${adapter}@contract.test` } });
      await call('POST', '/tenants', 'POST /tenants', { admin: true, body: { slug: `oa2-${adapter}`, name: 'Second', owner: { email: `owner2-${adapter}@contract.test`, password: TEST_OWNER_PASSWORD } } });
      await call('POST', '/tenants', 'POST /tenants', { admin: true, body: { slug: `oa3-${adapter}`, name: 'Third', owner: { email: `owner3-${adapter}@contract.test` } } });

      expect(answers.filter(([, status]) => status < 200 || status > 299).map(([k, status, body]) => `${k} -> ${status} ${JSON.stringify(body)}`)).toEqual([]);
      const problems = answers.map(([k, status, body]) => [k, problemsOf(k, status, body)]).filter(([, p]) => p !== null);
      expect(problems).toEqual([]);
    });
  });
});
