import { Controller, DynamicModule, Get, Inject, Module, Param } from '@nestjs/common';
import pg from 'pg';
import { Can } from '../../src/access/can.decorator';
import { AppError } from '../../src/common/errors/app-error';
import { TenantRoute } from '../../src/access/route-access.decorator';
import { AttackedApp, attackFreshApp, describeProblems, IsolationReport, leakingRoutes } from '../helpers/isolation-harness';

const LEAKY_DATABASE_URL = Symbol('LEAKY_DATABASE_URL');

/**
 * Test-only: a tenant route that is admitted like any other (credential,
 * tenant, role) but reads the document on a superuser connection, which
 * bypasses RLS and ignores the tenant: the bug the harness exists to catch.
 */
@TenantRoute()
@Can('documents:read')
@Controller('leaky-documents')
class LeakyDocumentsController {
  constructor(@Inject(LEAKY_DATABASE_URL) private readonly url: string) {}

  @Get(':id')
  async get(@Param('id') id: string) {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      const { rows } = await client.query('select id, title from documents where id::text = $1', [id]);
      if (!rows[0]) throw AppError.notFound('Document');
      return rows[0];
    } finally {
      await client.end();
    }
  }
}

@Module({})
class LeakyDocumentsModule {
  static register(superuserUrl: string): DynamicModule {
    return { module: LeakyDocumentsModule, controllers: [LeakyDocumentsController], providers: [{ provide: LEAKY_DATABASE_URL, useValue: superuserUrl }] };
  }
}

const LEAKY_ROUTE = 'GET /leaky-documents/:id';

/**
 * One app: the real application plus the deliberately leaky test module (one
 * seeding and one attack instead of two; routes are compared one by one, so
 * the leaky route cannot hide or cause a finding elsewhere).
 */
describe('isolation harness: every tenant route, every tenant table, found by itself', () => {
  let attacked: AttackedApp;
  let report: IsolationReport;

  beforeAll(async () => {
    attacked = await attackFreshApp('iso', { imports: (db) => [LeakyDocumentsModule.register(db.superuserUrl)] });
    report = attacked.report;
  });
  afterAll(() => attacked?.release());

  it('finds the known tenant routes and tenant tables (positive control for the enumeration)', () => {
    expect(report.routes).toEqual(
      expect.arrayContaining([
        'GET /documents',
        'GET /documents/:id',
        'PATCH /documents/:id',
        'DELETE /documents/:id',
        'DELETE /documents/:id/comments/:commentId',
        'GET /documents/:id/attachments/:attachmentId/content',
        'PUT /documents/:id/embedding',
        'GET /documents/:id/embedding',
        'DELETE /documents/:id/embedding',
        'POST /documents/search',
        'DELETE /api-keys/:id',
        'GET /members',
        'PATCH /members/:userId',
        'DELETE /members/:userId',
        'DELETE /members/invitations/:id',
        'GET /me',
        'GET /plan',
        'GET /usage',
        'GET /jobs',
        'GET /jobs/:id',
        'GET /exports',
        'GET /exports/:id',
        'GET /exports/:id/download',
        'DELETE /exports/:id',
        LEAKY_ROUTE,
      ]),
    );
    // Not tenant routes: platform admin, sign-in, public.
    expect(report.routes.filter((r) => /\/tenants|\/auth\/(login|accept-invitation)|\/health/.test(r))).toEqual([]);
    expect(report.tables).toEqual(
      expect.arrayContaining(['api_keys', 'attachments', 'comments', 'document_embeddings', 'documents', 'invitations', 'jobs', 'memberships', 'usage_counters', 'usage_events']),
    );
    // Victim ids from every tenant table, the victim's user ids among them.
    const sources = new Set([...report.victimIds.values()].map((s) => s.split('.')[0]));
    for (const table of report.tables) expect(sources).toContain(table);
    expect([...report.victimIds.values()]).toContain('memberships.user_id');
  });

  it('made a 2xx positive control with own ids for every tenant route', () => {
    expect(report.noPositiveControl).toEqual([]);
    expect([...report.positiveControls.keys()].sort()).toEqual([...report.routes].sort());
  });

  it("answers another tenant's ids exactly like random ids on every real tenant route, shows no victim id, changes no victim row", () => {
    expect(describeProblems(report, [LEAKY_ROUTE])).toEqual([]);
  });

  it('compared with answers that are 404s: a random id is not found in any param of any route', () => {
    const notFound = [...report.randomStatuses].filter(([, status]) => status !== 404);
    expect(notFound).toEqual([]);
    // Every param of every route with params was attacked, and all params at once where there are several.
    const slots = report.routes.flatMap((route) => {
      const params = [...route.matchAll(/:(\w+)/g)].map((m) => `:${m[1]}`);
      return [...params, ...(params.length > 1 ? [params.join('+')] : [])].map((slot) => `${route} ${slot}`);
    });
    expect([...report.randomStatuses.keys()].sort()).toEqual(slots.sort());
  });

  it('catches the deliberately leaky route', () => {
    expect(leakingRoutes(report)).toEqual([LEAKY_ROUTE]);
    const leaks = report.leaks.filter((l) => l.route === LEAKY_ROUTE);
    // Exactly the victim's documents were readable through it: 200 with the row, where a random id is a 404.
    const victimDocuments = [...report.victimIds.values()].filter((source) => source === 'documents.id').length;
    expect(victimDocuments).toBeGreaterThanOrEqual(2); // seedTenantData's two, plus any the create routes made
    expect(leaks.map((l) => l.source)).toEqual(Array(victimDocuments).fill('documents.id'));
    for (const leak of leaks) {
      expect(leak.foreign).toMatch(/^200 /);
      expect(leak.random).toMatch(/^404 /);
    }
    expect(describeProblems(report).some((line) => line.startsWith(`LEAK ${LEAKY_ROUTE}`))).toBe(true);
  });
});
