import { JobKinds } from '../../src/jobs/job-kinds';
import { createStandInVectorIndexes, vectorIndexTenantsOn } from '../helpers/vector-indexes';
import { withClient } from '../helpers/pg-client';
import { TenantMoveFailedError, TenantMoveService, TenantMoveStoppedError } from '../../src/lifecycle/tenant-move.service';
import { seedTenantData } from '../helpers/isolation-harness';
import { startS3Server, TestS3Server } from '../helpers/s3-server';
import { ApiResponse, startTestApp, TestApp } from '../helpers/test-app';
import { tenantTables } from '../helpers/test-database';
import { dedicatedDatabase, DedicatedDatabase } from '../scale-out/dedicated-helpers';

/**
 * Moving a tenant between placements (README "Moving a tenant"), on two real PostgreSQL servers
 * (the dedicated database on the second) and an S3-protocol server (attachments are seeded too).
 * Every count the test trusts is taken beside the application, as the superuser (RLS cannot hide
 * rows from it), on each database.
 */
describe('moving a tenant', () => {
  let s3: TestS3Server;
  let t: TestApp;
  let dedicated: DedicatedDatabase;
  let moves: TenantMoveService;

  beforeAll(async () => {
    s3 = await startS3Server();
    dedicated = dedicatedDatabase('move');
    t = await startTestApp({
      ...s3.env,
      TENANT_DATABASES: JSON.stringify({ big1: dedicated.settings }),
      // The move through HTTP runs as a job.
      JOBS_WORKER: 'on',
      JOBS_POLL_INTERVAL_MS: '200',
      // No periodic flush of counted requests: it would add ledger rows mid-test.
      USAGE_FLUSH_INTERVAL_MS: '3600000',
    });
    moves = t.app.get(TenantMoveService);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await s3?.close();
    await dedicated?.drop();
  });

  /** The tenant's rows in every tenant table of the database (superuser: nothing hidden). */
  const rowsOn = (url: string, tenantId: string) =>
    withClient(url, async (client) => {
      const counts: Record<string, number> = {};
      for (const table of await tenantTables(client)) {
        counts[table] = (await client.query<{ n: number }>(`select count(*)::int as n from "${table}" where tenant_id = $1`, [tenantId])).rows[0].n;
      }
      return counts;
    });
  const sharedUrl = () => t.db.superuserUrl;
  const big1Url = () => dedicated.superuserUrl;
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  const zeros = (counts: Record<string, number>) => Object.fromEntries(Object.keys(counts).map((table) => [table, 0]));
  const anchorOn = (url: string, tenantId: string) => withClient(url, async (client) => (await client.query('select database, move_state from tenants where id = $1', [tenantId])).rows[0]);
  const usageCounters = (url: string, tenantId: string) =>
    withClient(url, async (client) => (await client.query('select metric, value::text from usage_counters where tenant_id = $1 order by metric', [tenantId])).rows);

  async function seeded(slug: string) {
    const tenant = await t.createTenant(slug);
    await seedTenantData(t, slug);
    return tenant;
  }

  const newDocument = (tenant: string, title: string) => t.request('POST', '/documents', { tenant, body: { title, body: '', tags: [] } });

  it('moves a tenant from the shared database to a dedicated one and back: counts and checksums equal, the source cleaned, the other tenant untouched', async () => {
    const a = await seeded('move-roundtrip');
    const b = await seeded('move-bystander');
    const before = await rowsOn(sharedUrl(), a.id);
    const bBefore = await rowsOn(sharedUrl(), b.id);
    const countersBefore = await usageCounters(sharedUrl(), a.id);
    // Every tenant table holds rows of the tenant: the copy is exercised on each.
    for (const [table, n] of Object.entries(before)) expect([table, n > 0]).toEqual([table, true]);

    // A has its own vector indexes (stand-ins: no pgvector here). The move carries them where the
    // target has pgvector; big1 has not, so the tenant is searched exactly there (logged), and the
    // source's go with its rows.
    await createStandInVectorIndexes(sharedUrl(), a.id);
    expect(await vectorIndexTenantsOn(sharedUrl())).toContain(a.id);

    const started = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    expect(started).toMatchObject({ from: 'shared', to: 'big1', status: 'running', step: 'requested' });
    const done = await moves.run(started.id);
    expect(done).toMatchObject({ status: 'completed', step: 'cleaned', copied: before, error: null });
    expect(done.verification?.ok).toBe(true);
    expect(done.verification?.mismatched).toEqual([]);
    expect(done.verification?.source).toEqual(done.verification?.target);
    expect(done.pausedAt).not.toBeNull();
    expect(done.resumedAt).not.toBeNull();
    expect(total(done.cleaned!)).toBe(total(before));

    expect(await rowsOn(big1Url(), a.id)).toEqual(before);
    expect(await rowsOn(sharedUrl(), a.id)).toEqual(zeros(before));
    expect(await vectorIndexTenantsOn(sharedUrl())).not.toContain(a.id);
    expect(await vectorIndexTenantsOn(big1Url())).not.toContain(a.id);
    // The ledger's counters were copied, not counted again by the usage trigger.
    expect(await usageCounters(big1Url(), a.id)).toEqual(countersBefore);
    expect(await anchorOn(sharedUrl(), a.id)).toEqual({ database: 'big1', move_state: null });
    expect(await anchorOn(big1Url(), a.id)).toEqual({ database: 'big1', move_state: null });
    expect(await rowsOn(sharedUrl(), b.id)).toEqual(bBefore);

    // Served from big1: reads see the moved rows, writes land there.
    expect((await t.request('GET', `/tenants/${a.id}`, { admin: true })).body.database).toBe('big1');
    const listed = await t.request('GET', '/documents', { tenant: a.slug });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toHaveLength(before.documents);
    expect((await newDocument(a.slug, 'written on big1')).status).toBe(201);
    expect((await rowsOn(big1Url(), a.id)).documents).toBe(before.documents + 1);

    // And back, through the platform admin API: 202, the tenants.move job runs it.
    const back = await t.request('POST', `/tenants/${a.slug}/move`, { admin: true, body: { to: 'shared' } });
    expect(back.status).toBe(202);
    expect(back.body).toMatchObject({ from: 'big1', to: 'shared', jobId: expect.any(String) });
    const finished = await settled(back.body.id);
    expect(finished).toMatchObject({ status: 'completed', step: 'cleaned' });
    expect(finished.verification.ok).toBe(true);
    const after = await rowsOn(sharedUrl(), a.id);
    expect(after.documents).toBe(before.documents + 1);
    expect(total(after)).toBeGreaterThanOrEqual(total(before) + 1);
    expect(await rowsOn(big1Url(), a.id)).toEqual(zeros(before));
    // The dedicated database no longer knows the tenant: a stale route there is refused (TA421).
    expect(await anchorOn(big1Url(), a.id)).toBeUndefined();
    expect(await anchorOn(sharedUrl(), a.id)).toEqual({ database: 'shared', move_state: null });
    expect((await t.request('GET', '/documents', { tenant: a.slug })).body.items).toHaveLength(before.documents + 1);
    expect(await rowsOn(sharedUrl(), b.id)).toEqual(bBefore);

    const listedMoves = await t.request('GET', '/tenant-moves', { admin: true });
    expect(listedMoves.status).toBe(200);
    expect(listedMoves.body.items.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining([started.id, back.body.id]));
  }, 120_000);

  /** GET /tenant-moves/:id until it is no longer running (the job's outcome). */
  async function settled(id: string) {
    for (let i = 0; i < 600; i++) {
      const shown = await t.request('GET', `/tenant-moves/${id}`, { admin: true });
      expect(shown.status).toBe(200);
      if (shown.body.status !== 'running') return shown.body;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`move ${id} still running`);
  }

  it('under concurrent traffic: no write that got a 2xx is lost, refused writes are 503 TENANT_MOVING, the other tenant has no failure', async () => {
    const a = await t.createTenant('move-busy');
    const b = await t.createTenant('move-neighbour');
    for (let i = 0; i < 5; i++) expect((await newDocument(a.slug, `seed ${i}`)).status).toBe(201);

    // A loop of A's writes, and of B's writes and reads, running through the whole move.
    const aResults: ApiResponse[] = [];
    const bResults: ApiResponse[] = [];
    let stop = false;
    const aLoop = (async () => {
      for (let i = 0; !stop; i++) aResults.push(await newDocument(a.slug, `busy ${i}`));
    })();
    const bLoop = (async () => {
      for (let i = 0; !stop; i++) {
        bResults.push(await newDocument(b.slug, `neighbour ${i}`));
        bResults.push(await t.request('GET', '/documents?limit=5', { tenant: b.slug }));
      }
    })();
    const rounds = async (n: number) => {
      const from = aResults.length;
      while (aResults.length < from + n) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await rounds(5);

    // Paused and the barrier passed under that load (the run stopped right after the pause, as a
    // crash would): while it stays paused, A's writes are refused, its reads and B go on.
    const started = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    await expect(moves.run(started.id, { stopAfter: 'paused' })).rejects.toBeInstanceOf(TenantMoveStoppedError);
    await rounds(3);
    const refused = await newDocument(a.slug, 'while paused');
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('TENANT_MOVING');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await t.request('GET', '/documents', { tenant: a.slug })).status).toBe(200); // reads go on
    expect((await newDocument(b.slug, 'neighbour while a is paused')).status).toBe(201); // others unaffected

    const done = await moves.run(started.id);
    // A few more rounds after the switch, so writes on the new placement are in the loop too.
    await rounds(5);
    stop = true;
    await Promise.all([aLoop, bLoop]);
    expect(done).toMatchObject({ status: 'completed' });

    const accepted = aResults.filter((r) => r.status === 201);
    const others = aResults.filter((r) => r.status !== 201);
    expect(others.map((r) => `${r.status} ${r.body?.error?.code}`).filter((s) => s !== '503 TENANT_MOVING')).toEqual([]);
    expect(accepted.length).toBeGreaterThan(0);
    const onBig1 = await withClient(big1Url(), async (client) => (await client.query<{ id: string }>('select id from documents where tenant_id = $1', [a.id])).rows.map((r) => r.id));
    for (const response of accepted) expect(onBig1).toContain(response.body.id);
    expect(onBig1).toHaveLength(5 + accepted.length);
    // Some of A's writes were refused during the pause, and some accepted after the switch (the loop spanned the move).
    expect(others.length).toBeGreaterThan(0);
    expect((await rowsOn(sharedUrl(), a.id)).documents).toBe(0);

    // B: every request succeeded, and they really ran (positive control: its writes are there).
    expect(bResults.filter((r) => r.status >= 300).map((r) => `${r.status} ${JSON.stringify(r.body)}`)).toEqual([]);
    expect(bResults.length).toBeGreaterThan(0);
    const bWrites = bResults.filter((r) => r.status === 201);
    expect(bWrites.length).toBeGreaterThan(0);
    expect((await rowsOn(sharedUrl(), b.id)).documents).toBe(1 + bWrites.length);
    expect(bResults.filter((r) => r.status === 200).length).toBeGreaterThan(0);
  }, 120_000);

  it('a verification mismatch rolls back: the copy is removed, the tenant stays on its source with every row, writable again', async () => {
    const a = await seeded('move-mismatch');
    const before = await rowsOn(sharedUrl(), a.id);
    const started = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    await expect(moves.run(started.id, { stopAfter: 'copied' })).rejects.toBeInstanceOf(TenantMoveStoppedError);
    expect(await rowsOn(big1Url(), a.id)).toEqual(before); // positive control: the copy is there
    // Tampered on the target between copy and verification: a changed title, same row count.
    await withClient(big1Url(), (client) => client.query("update documents set title = 'tampered' where id = (select id from documents where tenant_id = $1 limit 1)", [a.id]));

    const outcome = await moves.run(started.id);
    expect(outcome).toMatchObject({ status: 'rolled-back', step: 'copied' });
    expect(outcome.verification?.ok).toBe(false);
    expect(outcome.verification?.mismatched).toEqual(['documents']);
    expect(outcome.error).toMatch(/verification failed: documents differ/);

    expect(await rowsOn(big1Url(), a.id)).toEqual(zeros(before));
    expect(await anchorOn(big1Url(), a.id)).toBeUndefined();
    expect(await rowsOn(sharedUrl(), a.id)).toEqual(before);
    expect(await anchorOn(sharedUrl(), a.id)).toEqual({ database: 'shared', move_state: null });
    expect((await t.request('GET', '/documents', { tenant: a.slug })).body.items).toHaveLength(before.documents);
    expect((await newDocument(a.slug, 'after the rollback')).status).toBe(201);
    // A rolled-back move is final: it cannot be aborted, and a new one may be asked for.
    const aborted = await t.request('POST', `/tenant-moves/${started.id}/abort`, { admin: true });
    expect([aborted.status, aborted.body.error.code]).toEqual([409, 'TENANT_MOVE_FINISHED']);
    expect((await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' })).id).not.toBe(started.id);
  }, 120_000);

  it('a copy that fails part way leaves nothing on the target; the tenant stays paused, and running the move again completes it', async () => {
    const a = await seeded('move-crash');
    const before = await rowsOn(sharedUrl(), a.id);
    const started = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    let tables = 0;
    const failure = await moves
      .run(started.id, {
        report: async ({ stage }) => {
          // The process "dies" after the third table was copied into the (uncommitted) target transaction.
          if (stage?.startsWith('copy:') && ++tables === 3) throw new Error('killed mid-copy');
        },
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TenantMoveFailedError);
    expect((failure as TenantMoveFailedError).report).toMatchObject({ status: 'failed', step: 'paused', error: 'killed mid-copy' });
    expect(tables).toBe(3);
    expect(await rowsOn(big1Url(), a.id)).toEqual(zeros(before));
    // Still paused: reads work, writes are refused, nothing lost.
    expect((await t.request('GET', '/documents', { tenant: a.slug })).status).toBe(200);
    expect((await newDocument(a.slug, 'while failed')).status).toBe(503);

    // Asking again for the same target finds the unfinished move and resumes it.
    const again = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    expect(again.id).toBe(started.id);
    const done = await moves.run(again.id);
    expect(done).toMatchObject({ status: 'completed', attempts: 2, copied: before });
    expect(await rowsOn(big1Url(), a.id)).toEqual(before);
    expect(await rowsOn(sharedUrl(), a.id)).toEqual(zeros(before));
    expect((await newDocument(a.slug, 'after the resume')).status).toBe(201);
  }, 120_000);

  const abort = (id: string) => t.request('POST', `/tenant-moves/${id}/abort`, { admin: true });

  it('an abort asked while the run copies stops it at the next step boundary: the copy deleted, writes resume on the source, no 2xx write lost; the next move completes', async () => {
    const a = await seeded('move-abort');
    const before = await rowsOn(sharedUrl(), a.id);
    const seededDocs = before.documents;

    const aResults: ApiResponse[] = [];
    let stop = false;
    const aLoop = (async () => {
      for (let i = 0; !stop; i++) aResults.push(await newDocument(a.slug, `abort ${i}`));
    })();
    const rounds = async (n: number) => {
      const from = aResults.length;
      while (aResults.length < from + n) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await rounds(3);

    const started = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    let asked: ApiResponse | undefined;
    const outcome = await moves.run(started.id, {
      report: async ({ stage }) => {
        // Mid-copy (the run holds the move): the abort is only recorded, the run acts on it after the copy step.
        if (stage?.startsWith('copy:') && !asked) asked = await abort(started.id);
      },
    });
    expect(asked?.status).toBe(202);
    expect(asked?.body).toMatchObject({ id: started.id, status: 'running', abortedBy: expect.stringMatching(/^admin-key:/) });
    expect(outcome).toMatchObject({ status: 'aborted', step: 'copied', abortedBy: asked?.body.abortedBy, error: expect.stringMatching(/^aborted by admin-key:.* after step copied$/) });
    expect(outcome.finishedAt).not.toBeNull();

    // The copy is gone, the tenant is on its source, unpaused, and writable there.
    expect(await rowsOn(big1Url(), a.id)).toEqual(zeros(before));
    expect(await anchorOn(big1Url(), a.id)).toBeUndefined();
    expect(await anchorOn(sharedUrl(), a.id)).toEqual({ database: 'shared', move_state: null });
    await rounds(3);
    stop = true;
    await aLoop;
    const accepted = aResults.filter((r) => r.status === 201);
    const others = aResults.filter((r) => r.status !== 201);
    expect(others.map((r) => `${r.status} ${r.body?.error?.code}`).filter((line) => line !== '503 TENANT_MOVING')).toEqual([]);
    const onShared = await withClient(sharedUrl(), async (client) => (await client.query<{ id: string }>('select id from documents where tenant_id = $1', [a.id])).rows.map((r) => r.id));
    for (const response of accepted) expect(onShared).toContain(response.body.id);
    expect(onShared).toHaveLength(seededDocs + accepted.length);
    // Writes were accepted after the abort (the last rounds), not only before the pause.
    expect(accepted.at(-1)!.body.id).toBe(aResults.at(-1)!.body.id);

    // Idempotent: the aborted move is returned as it is; GET shows the same.
    const again = await abort(started.id);
    expect([again.status, again.body.status, again.body.abortedBy, again.body.finishedAt]).toEqual([200, 'aborted', outcome.abortedBy, outcome.finishedAt]);
    expect((await t.request('GET', `/tenant-moves/${started.id}`, { admin: true })).body).toMatchObject({ status: 'aborted', abortedBy: outcome.abortedBy });

    // Positive control: an aborted move is final, a new one (not aborted) completes with every row, the writes included.
    const sourceNow = await rowsOn(sharedUrl(), a.id);
    const next = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    expect(next.id).not.toBe(started.id);
    expect(await moves.run(next.id)).toMatchObject({ status: 'completed', abortedBy: null, copied: sourceNow });
    expect(await rowsOn(big1Url(), a.id)).toEqual(sourceNow);
  }, 120_000);

  it('aborts at once a move no run holds (requested, stopped while paused, queued as a job); refuses after the switch (409 TENANT_MOVE_SWITCHED) and after a rollback', async () => {
    // Requested, never run: nothing on the target to delete.
    const a = await seeded('move-abort-now');
    const before = await rowsOn(sharedUrl(), a.id);
    const requested = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    const abortedAtOnce = await abort(requested.id);
    expect([abortedAtOnce.status, abortedAtOnce.body.status, abortedAtOnce.body.step]).toEqual([200, 'aborted', 'requested']);
    // Running it afterwards does nothing (a queued job that runs late).
    expect(await moves.run(requested.id)).toMatchObject({ status: 'aborted', attempts: 0 });

    // Stopped while paused (writes refused): the abort resumes the writes at once.
    const paused = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    await expect(moves.run(paused.id, { stopAfter: 'paused' })).rejects.toBeInstanceOf(TenantMoveStoppedError);
    expect((await newDocument(a.slug, 'while paused')).status).toBe(503);
    const abortedPaused = await abort(paused.id);
    expect([abortedPaused.status, abortedPaused.body.status, abortedPaused.body.step]).toEqual([200, 'aborted', 'paused']);
    expect(await anchorOn(sharedUrl(), a.id)).toEqual({ database: 'shared', move_state: null });
    expect((await newDocument(a.slug, 'after the abort')).status).toBe(201);
    expect((await rowsOn(sharedUrl(), a.id)).documents).toBe(before.documents + 1);

    // Through the API: the move's job aborts (at once, or at its next boundary if it already started).
    const viaApi = await t.request('POST', `/tenants/${a.slug}/move`, { admin: true, body: { to: 'big1' } });
    expect(viaApi.status).toBe(202);
    expect([200, 202]).toContain((await abort(viaApi.body.id)).status);
    expect(await settled(viaApi.body.id)).toMatchObject({ status: 'aborted', abortedBy: expect.stringMatching(/^admin-key:/) });
    expect(await rowsOn(big1Url(), a.id)).toEqual(zeros(before));
    expect((await t.request('GET', `/tenants/${a.id}`, { admin: true })).body.database).toBe('shared');

    // Switched (the run stopped right after the switch): too late.
    const switched = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    await expect(moves.run(switched.id, { stopAfter: 'switched' })).rejects.toBeInstanceOf(TenantMoveStoppedError);
    const late = await abort(switched.id);
    expect([late.status, late.body.error.code]).toEqual([409, 'TENANT_MOVE_SWITCHED']);
    expect(await moves.run(switched.id)).toMatchObject({ status: 'completed', abortedBy: null });
    const done = await abort(switched.id);
    expect([done.status, done.body.error.code]).toEqual([409, 'TENANT_MOVE_SWITCHED']);
    expect((await t.request('GET', `/tenants/${a.id}`, { admin: true })).body.database).toBe('big1');

    // Refusals of the request itself.
    expect((await t.request('POST', '/tenant-moves/not-a-uuid/abort', { admin: true })).status).toBe(400);
    expect((await abort('00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect([401, 403]).toContain((await t.request('POST', `/tenant-moves/${switched.id}/abort`, { tenant: a.slug })).status);
  }, 120_000);

  it('a move stopped after verification aborts (nothing switched); one whose switch half ran, or is switching, is 409 and completes', async () => {
    const a = await seeded('move-abort-verified');
    const before = await rowsOn(sharedUrl(), a.id);
    const verified = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    await expect(moves.run(verified.id, { stopAfter: 'verified' })).rejects.toBeInstanceOf(TenantMoveStoppedError);
    expect(await rowsOn(big1Url(), a.id)).toEqual(before); // positive control: the verified copy is there
    const aborted = await abort(verified.id);
    expect([aborted.status, aborted.body.status, aborted.body.step]).toEqual([200, 'aborted', 'verified']);
    expect(await rowsOn(big1Url(), a.id)).toEqual(zeros(before));
    expect(await anchorOn(sharedUrl(), a.id)).toEqual({ database: 'shared', move_state: null });

    // The switch step died after the directory named the target, before 'switched' was recorded:
    // the tenant is served from big1, its copy is its data. Refused; running the move finishes it.
    const halfSwitched = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    await expect(moves.run(halfSwitched.id, { stopAfter: 'verified' })).rejects.toBeInstanceOf(TenantMoveStoppedError);
    await withClient(sharedUrl(), (client) => client.query("update tenants set database = 'big1', move_state = null where id = $1", [a.id]));
    const refused = await abort(halfSwitched.id);
    expect([refused.status, refused.body.error.code]).toEqual([409, 'TENANT_MOVE_SWITCHED']);
    expect(await rowsOn(big1Url(), a.id)).toEqual(before);
    expect(await moves.run(halfSwitched.id)).toMatchObject({ status: 'completed', abortedBy: null });
    expect(await rowsOn(big1Url(), a.id)).toEqual(before);
    expect(await rowsOn(sharedUrl(), a.id)).toEqual(zeros(before));

    // Asked while the run is switching (verified recorded, the run holds the move): 409, and the move completes.
    const back = await moves.start({ tenant: a.slug, to: 'shared', requestedBy: 'test' });
    let whileSwitching: ApiResponse | undefined;
    const done = await moves.run(back.id, {
      report: async ({ stage }) => {
        if (stage === 'switch') whileSwitching = await abort(back.id);
      },
    });
    expect([whileSwitching?.status, whileSwitching?.body.error.code]).toEqual([409, 'TENANT_MOVE_SWITCHED']);
    expect(done).toMatchObject({ status: 'completed', abortedBy: null });
    expect(await rowsOn(sharedUrl(), a.id)).toEqual(before);
  }, 120_000);

  it("a move whose job the queue gave up (its last attempt's worker died) is failed, then resumed to completion", async () => {
    const a = await seeded('move-given-up');
    const before = await rowsOn(sharedUrl(), a.id);
    const started = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    // The run "died" after the pause: the report says running, no run holds it.
    await expect(moves.run(started.id, { stopAfter: 'paused' })).rejects.toBeInstanceOf(TenantMoveStoppedError);
    // What JobsWorker's sweep calls for a given-up tenants.move job.
    const hook = t.app.get(JobKinds).get('tenants.move')!.options.onGivenUp;
    await hook({ moveId: started.id }, { jobId: started.id, failure: { code: 'JOB_ABANDONED', message: 'x' } });
    const failed = await moves.get(started.id);
    expect(failed).toMatchObject({ status: 'failed', step: 'paused', error: expect.stringMatching(/its job was given up .* after step paused/) });
    // Idempotent, and a finished move is left as it is.
    await hook({ moveId: started.id }, { jobId: started.id, failure: { code: 'JOB_ABANDONED', message: 'x' } });
    expect((await moves.get(started.id)).status).toBe('failed');
    // Positive control: asking again resumes the same move, which completes with every row.
    const again = await moves.start({ tenant: a.slug, to: 'big1', requestedBy: 'test' });
    expect(again.id).toBe(started.id);
    expect(await moves.run(again.id)).toMatchObject({ status: 'completed', copied: before });
  }, 120_000);

  it('refuses bad requests with clear 4xx codes before anything changes (positive control: a valid request is accepted)', async () => {
    const a = await t.createTenant('move-refusals');
    const move = (tenant: string, body: unknown) => t.request('POST', `/tenants/${tenant}/move`, { admin: true, body });

    expect((await move(a.slug, { to: 'nowhere' })).body.error.code).toBe('NOT_FOUND');
    expect((await move(a.slug, { to: 'nowhere' })).status).toBe(404);
    expect((await move('no-such-tenant', { to: 'big1' })).status).toBe(404);
    const already = await move(a.slug, { to: 'shared' });
    expect([already.status, already.body.error.code]).toEqual([409, 'CONFLICT']);
    for (const body of [{}, { to: 'Big One' }, { to: 'big1', extra: 1 }, { to: 42 }]) {
      const refused = await move(a.slug, body);
      expect([JSON.stringify(body), refused.status, refused.body.error.code]).toEqual([JSON.stringify(body), 400, 'VALIDATION_FAILED']);
    }
    expect([401, 403]).toContain((await t.request('POST', `/tenants/${a.slug}/move`, { tenant: a.slug, body: { to: 'big1' } })).status); // not a platform admin
    expect((await t.request('GET', '/tenant-moves/not-a-uuid', { admin: true })).status).toBe(400);
    expect((await t.request('GET', '/tenant-moves/00000000-0000-4000-8000-000000000000', { admin: true })).status).toBe(404);
    expect(await rowsOn(sharedUrl(), a.id)).toMatchObject({ documents: 0 });
    expect((await t.request('GET', '/tenant-moves', { admin: true })).body.items.filter((m: { tenantId: string }) => m.tenantId === a.id)).toEqual([]);

    // Positive control, then a second move of it while the first is unfinished: 409.
    const accepted = await move(a.slug, { to: 'big1' });
    expect(accepted.status).toBe(202);
    const elsewhere = await move(a.slug, { to: 'shared' });
    expect(elsewhere.status).toBe(409);
    // The same target again: running (its job queued or at work) or already done there, 409 either way; no second job.
    const again = await move(a.slug, { to: 'big1' });
    expect([again.status, again.body.error.code]).toEqual([409, 'CONFLICT']);
    expect((await settled(accepted.body.id)).status).toBe('completed');
    expect((await t.request('GET', `/tenants/${a.id}`, { admin: true })).body.database).toBe('big1');
  }, 120_000);
});
