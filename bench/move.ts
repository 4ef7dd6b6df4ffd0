import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { createTenant, signIn } from './api-tenants';
import { commandLine, nonNegativeInt, parsedOrRefused, positiveInt } from './command-line';
import type { LoadResult, LoadTarget } from './load';
import { BENCH_ROLE_PASSWORDS, createBenchDatabase, startServer, withClient } from './postgres';
import { ApiServer, benchApiEnv, runLoad, startApiServer, startLoad } from './processes';
import { median } from './report';
import { seedDocuments } from './seed';
import type { TenantDatabaseSettings } from '../src/config/env.schema';
import { dropDatabase, withCredentials, withDatabase } from '../src/database/provisioning';
import { APP_ROLE, OWNER_ROLE } from '../src/database/schema/roles';

/**
 * `npm run bench:move`: what a live tenant move costs the other tenants (README "Benchmarks" >
 * "Live moves"; the move itself: README "Moving a tenant"). On one PostgreSQL server (embedded,
 * or BENCH_DATABASE_URL), one API process with the jobs worker on (the move runs as the
 * `tenants.move` job, as in production) and TENANT_DATABASES registering one dedicated database.
 *
 * Tenants, all created by POST /tenants with an owner who signs in for a JWT, all on the shared
 * database at first: M, the mover, with --docs documents, and --bystanders tenants with
 * --bystander-docs documents each (rows written by the bench as the superuser, bench/seed.ts).
 *
 * Each round:
 * 1. alone: the bystanders' load, GET /documents/:id spread over their documents (an open loop at
 *    --rate requests/s on up to --connections sockets, as bench:noisy sends Q; --rate 0: a closed
 *    loop on --connections), for --duration s;
 * 2. during the move: the same load, and --lead-in ms later POST /tenants/M/move (shared ->
 *    dedicated on odd rounds, back on even ones); the load runs until GET /tenant-moves/:id says
 *    the move ended, then stops. So this window holds the whole move: the job's wait in the queue,
 *    pause, barrier, copy, verification, switch and the source's cleaning.
 * In both phases M writes too (POST /documents, one at a time, at --write-rate per second): in
 * the first they must all be accepted (the control), during the move each is 201 or 503
 * TENANT_MOVING (anything else is a failure). So the two phases differ by the move only.
 * After each move the bench counts M's documents on the database it moved to, as the superuser:
 * the seeded ones plus every write that got a 201, none lost.
 *
 * Reported per round: the bystanders' p50/p99 alone and during the move (ratio) and their
 * non-2xx (must be 0), the move's wall time, its write pause (the report's pausedAt ->
 * resumedAt), M's writes accepted / refused; and the median ratios. The issue gives no target.
 *
 * --worker-process: the move's job runs in a second API process (JOBS_WORKER=on there, off in the
 * one serving every request), as a deployment with worker instances would run it; without Redis
 * the two do not share the tenant cache, so both cache tenant lookups for
 * WORKER_PROCESS_TENANT_CACHE_TTL_MS only (the serving one routes M to its old placement, 503
 * TENANT_MOVING, at most that long after the switch): M's writes of a round go on that long
 * after the move ended, so such refusals count with the move's.
 */

interface Options {
  duration: number;
  rounds: number;
  warmup: number;
  docs: number;
  bystanders: number;
  bystanderDocs: number;
  connections: number;
  /** Bystanders' requests per second (open loop); 0: closed loop on --connections. */
  rate: number;
  /** M's writes per second. */
  writeRate: number;
  /** Milliseconds of load before the move is asked for. */
  leadIn: number;
  /** Seconds a move may take before the bench gives up. */
  moveTimeout: number;
  poolSize: number;
  /** The move runs in a second API process (the only one with the jobs worker), not in the one serving the load. */
  workerProcess: boolean;
}

interface WriteCounts {
  accepted: number;
  /** 503 TENANT_MOVING: the tenant's writes are paused (or routed to its old placement). */
  refused: number;
  /** Any other answer, by "status code" (or the network error): failures. */
  other: Record<string, number>;
  /** Between the first and the last refusal, as the client saw it (ms; 0 with fewer than two). */
  refusedSpanMs: number;
}

/** The part of GET /tenant-moves/:id the bench reads. */
interface MoveReport {
  id: string;
  from: string;
  to: string;
  status: string;
  step: string;
  attempts: number;
  copied: Record<string, number> | null;
  error: string | null;
  startedAt: string;
  pausedAt: string | null;
  resumedAt: string | null;
  finishedAt: string | null;
}

interface MoveMeasure {
  from: string;
  to: string;
  report: MoveReport;
  /** POST /tenants/:id/move until a GET showed it ended (client clock). */
  clientMs: number;
  /** The report's startedAt -> finishedAt. */
  serverMs: number;
  /** startedAt -> pausedAt: the job's wait in the queue and the start of its run. */
  queuedMs: number;
  /** pausedAt -> resumedAt: M's writes refused meanwhile. */
  pauseMs: number;
  rowsCopied: number;
}

interface Round {
  alone: { load: LoadResult; writes: WriteCounts };
  during: { load: LoadResult; writes: WriteCounts };
  move: MoveMeasure;
  /** M's documents on the database it moved to, and the seeded ones plus every accepted write. */
  moverDocuments: { found: number; expected: number };
}

/** The dedicated database's name in TENANT_DATABASES. */
const DEDICATED = 'dedicated1';
/** How often the worker looks for queued jobs (the default is 2 s): short, so the queue adds little to a move's time. */
const JOBS_POLL_INTERVAL_MS = 200;
/** TENANT_CACHE_TTL_MS of both processes with --worker-process (they share no cache store). */
const WORKER_PROCESS_TENANT_CACHE_TTL_MS = 1_000;
/** How often the bench reads the move's report. */
const POLL_MS = 100;

const log = (message: string) => process.stderr.write(`[bench:move] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function moveCommand(): Command {
  return commandLine(
    'bench:move',
    "Live tenant moves: the other tenants' p50/p99 alone and while one tenant moves between the shared and a dedicated database, the move's time and write pause, the mover's writes accepted and refused. BENCH_DATABASE_URL: an existing server (superuser URL).",
  )
    .option('--duration <s>', "seconds of the bystanders' load alone, per round (during the move it runs until the move ended)", positiveInt, 10)
    .option('--rounds <n>', 'rounds: one move each, shared -> dedicated on odd rounds, back on even ones', positiveInt, 3)
    .option('--warmup <s>', 'warm-up seconds (the same load and writes, unmeasured)', positiveInt, 3)
    .option('--docs <n>', "the mover's documents", positiveInt, 20_000)
    .option('--bystanders <n>', 'tenants that stay on the shared database and are read meanwhile', positiveInt, 5)
    .option('--bystander-docs <n>', 'documents per bystander', positiveInt, 100)
    .option('--connections <n>', "sockets of the bystanders' load (the closed loop's connections with --rate 0)", positiveInt, 8)
    .option('--rate <n>', "bystanders' requests per second, open loop (0: closed loop, as fast as answered)", nonNegativeInt, 300)
    .option('--write-rate <n>', "the mover's writes (POST /documents) per second, one at a time, in both phases", positiveInt, 20)
    .option('--lead-in <ms>', 'milliseconds of load before the move is asked for', nonNegativeInt, 500)
    .option('--move-timeout <s>', 'seconds a move may take before the bench gives up', positiveInt, 300)
    .option('--pool-size <n>', 'DB_POOL_SIZE of the API (the shared pool)', positiveInt, 10)
    .option('--worker-process', 'run the move in a second API process (the only jobs worker), not in the one serving the load', false);
}

/**
 * M's writes, one at a time, request i due at start + i / rate (a late one is sent at once, not
 * in a burst), each answer classified. stop() ends the loop after the write in flight.
 */
function startWrites(api: ApiServer, headers: Record<string, string>, rate: number): { stop(): Promise<WriteCounts> } {
  const counts: WriteCounts = { accepted: 0, refused: 0, other: {}, refusedSpanMs: 0 };
  let firstRefused: number | undefined;
  let stopping = false;
  const loop = (async () => {
    const start = performance.now();
    for (let i = 0; !stopping; i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      if (stopping) break;
      try {
        const response = await fetch(`${api.url}/documents`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ title: `written by bench:move ${i}`, body: 'A write of the moving tenant.', tags: ['bench-move'] }),
        });
        const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
        if (response.status === 201) counts.accepted++;
        else if (response.status === 503 && body.error?.code === 'TENANT_MOVING') {
          counts.refused++;
          const now = performance.now();
          firstRefused ??= now;
          counts.refusedSpanMs = now - firstRefused;
        } else {
          const key = `${response.status} ${body.error?.code ?? ''}`.trim();
          counts.other[key] = (counts.other[key] ?? 0) + 1;
        }
      } catch (error) {
        const key = `network error: ${(error as Error).message}`;
        counts.other[key] = (counts.other[key] ?? 0) + 1;
      }
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await loop;
      return counts;
    },
  };
}

const otherCount = (counts: WriteCounts) => Object.values(counts.other).reduce((a, b) => a + b, 0);
const failedRequests = (load: LoadResult) => load.non2xx + load.errors + load.timeouts;

/** POST /tenants/:idOrSlug/move, then GET /tenant-moves/:id until it is no longer running; throws unless it completed. */
async function moveTenant(api: ApiServer, adminKey: string, tenant: string, to: string, timeoutSeconds: number): Promise<MoveMeasure> {
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
  const started = performance.now();
  const response = await fetch(`${api.url}/tenants/${tenant}/move`, { method: 'POST', headers, body: JSON.stringify({ to }) });
  const asked = (await response.json()) as MoveReport;
  if (response.status !== 202 || !asked.id) throw new Error(`POST /tenants/${tenant}/move to ${to} answered ${response.status} ${JSON.stringify(asked).slice(0, 300)}`);
  const deadline = started + timeoutSeconds * 1000;
  for (;;) {
    const shown = await fetch(`${api.url}/tenant-moves/${asked.id}`, { headers });
    const report = (await shown.json()) as MoveReport;
    if (shown.status !== 200) throw new Error(`GET /tenant-moves/${asked.id} answered ${shown.status} ${JSON.stringify(report).slice(0, 300)}`);
    if (report.status !== 'running') {
      const clientMs = performance.now() - started;
      if (report.status !== 'completed' || !report.pausedAt || !report.resumedAt || !report.finishedAt) {
        throw new Error(`move ${report.id} (${report.from} -> ${report.to}) ended ${report.status} after step ${report.step}: ${report.error ?? 'no error recorded'}`);
      }
      const at = (iso: string) => new Date(iso).getTime();
      return {
        from: report.from,
        to: report.to,
        report,
        clientMs,
        serverMs: at(report.finishedAt) - at(report.startedAt),
        queuedMs: at(report.pausedAt) - at(report.startedAt),
        pauseMs: at(report.resumedAt) - at(report.pausedAt),
        rowsCopied: Object.values(report.copied ?? {}).reduce((a, b) => a + b, 0),
      };
    }
    if (performance.now() > deadline) throw new Error(`move ${asked.id} still running after ${timeoutSeconds} s (step ${report.step}); the bench gives up (the move goes on in the API until it is stopped)`);
    await sleep(POLL_MS);
  }
}

async function main(): Promise<void> {
  const command = moveCommand();
  if (!parsedOrRefused(command)) return;
  const options = command.opts<Options>();
  const cleanup: Array<() => Promise<void>> = [];
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  try {
    const postgres = await startServer(process.env.BENCH_DATABASE_URL);
    cleanup.unshift(() => postgres.stop());
    const server = postgres.superuserUrl;
    const shared = await createBenchDatabase(server, 'move');
    cleanup.unshift(() => shared.drop());

    // The dedicated database: created, migrated and anchored by the API on the first move to it.
    const dedicatedName = `${shared.name}_${DEDICATED}`;
    const dedicatedBase = withDatabase(server, dedicatedName);
    const registry: Record<string, TenantDatabaseSettings> = {
      [DEDICATED]: {
        url: withCredentials(dedicatedBase, APP_ROLE, BENCH_ROLE_PASSWORDS.app),
        migrationUrl: withCredentials(dedicatedBase, OWNER_ROLE, BENCH_ROLE_PASSWORDS.owner),
        adminUrl: server,
      },
    };
    cleanup.unshift(() => dropDatabase(server, dedicatedName));
    const superuserUrlOf = (database: string) => (database === 'shared' ? shared.superuserUrl : dedicatedBase);

    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tenancy-bench-move-'));
    cleanup.unshift(async () => rmSync(tmp, { recursive: true, force: true }));
    const adminKey = `bench_${randomBytes(24).toString('base64url')}`;
    log(`starting the API (one dedicated database registered; the move runs ${options.workerProcess ? 'in a second API process, the only jobs worker' : 'in it, jobs worker on'})`);
    const jwtSecret = randomBytes(32).toString('base64url');
    // One JWT secret: either process accepts the tokens (every request goes to the first).
    const env = (worker: boolean) => ({
      ...benchApiEnv({ tmp, adminKey, jwtSecret }),
      DATABASE_URL: shared.appUrl,
      // The move's copy, checksums and cleaning run as the owner (src/database/owner-connections.ts).
      DATABASE_MIGRATION_URL: shared.ownerUrl,
      BENCH_UNSCOPED_DATABASE_URL: shared.superuserUrl,
      DB_POOL_SIZE: String(options.poolSize),
      TENANT_DATABASES: JSON.stringify(registry),
      TENANT_CACHE_TTL_MS: String(options.workerProcess ? WORKER_PROCESS_TENANT_CACHE_TTL_MS : 60_000),
      // The move runs as the tenants.move job in the process with the worker.
      JOBS_WORKER: worker ? 'on' : 'off',
      JOBS_POLL_INTERVAL_MS: String(JOBS_POLL_INTERVAL_MS),
    });
    const api = await startApiServer('api-move', env(!options.workerProcess), { script: 'server.js', execArgv: [] });
    cleanup.unshift(() => api.stop());
    if (options.workerProcess) {
      const worker = await startApiServer('api-move-worker', env(true), { script: 'server.js', execArgv: [] });
      cleanup.unshift(() => worker.stop());
    }

    const password = `bench-${randomBytes(12).toString('base64url')}`;
    const make = async (slug: string) => ({ slug, ...(await createTenant(api, adminKey, { slug, name: `Move ${slug}`, password })) });
    const mover = await make('move-mover');
    const bystanders: Array<{ slug: string; id: string; database: string }> = [];
    for (let i = 1; i <= options.bystanders; i++) bystanders.push(await make(`move-bystander-${String(i).padStart(2, '0')}`));
    log(`seeding ${options.docs} documents for the mover, ${options.bystanderDocs} for each of ${options.bystanders} bystanders (shared database)`);
    await seedDocuments(shared.superuserUrl, [mover.id], options.docs);
    const bystanderDocs = await seedDocuments(shared.superuserUrl, bystanders.map((b) => b.id), options.bystanderDocs);

    const targets: LoadTarget[] = [];
    for (const bystander of bystanders) {
      const headers = await signIn(api, bystander, password);
      targets.push(...bystanderDocs.get(bystander.id)!.map((id) => ({ path: `/documents/${id}`, headers })));
    }
    const moverHeaders = await signIn(api, mover, password);

    // Preflight: a bystander's document answers, and the mover may write (the control of the refusals counted later).
    const probe = await fetch(`${api.url}${targets[0].path}`, { headers: targets[0].headers });
    if (probe.status !== 200) throw new Error(`preflight: ${targets[0].path} answered ${probe.status} ${(await probe.text()).slice(0, 300)}`);
    const preflightWrites = startWrites(api, moverHeaders, options.writeRate);
    await sleep(200);
    const preflight = await preflightWrites.stop();
    if (preflight.accepted < 1 || preflight.refused || otherCount(preflight)) throw new Error(`preflight: the mover's writes answered ${JSON.stringify(preflight)}`);
    let moverExpected = options.docs + preflight.accepted;

    const load = (durationSeconds: number, seed: number) => ({
      url: api.url,
      targets,
      connections: options.connections,
      durationSeconds,
      seed,
      overallRate: options.rate || undefined,
    });

    log(`warm-up ${options.warmup} s`);
    const warmWrites = startWrites(api, moverHeaders, options.writeRate);
    await runLoad(load(options.warmup, 1));
    moverExpected += (await warmWrites.stop()).accepted;

    const rounds: Round[] = [];
    let placement = 'shared';
    for (let round = 0; round < options.rounds; round++) {
      const to = placement === 'shared' ? DEDICATED : 'shared';
      log(`round ${round + 1}/${options.rounds}: bystanders alone ${options.duration} s, then during the mover's move ${placement} -> ${to}`);
      const aloneWrites = startWrites(api, moverHeaders, options.writeRate);
      const aloneLoad = await runLoad(load(options.duration, 100 + round));
      const alone = { load: aloneLoad, writes: await aloneWrites.stop() };

      const duringWrites = startWrites(api, moverHeaders, options.writeRate);
      // Long enough for any move; stopped as soon as the move ended.
      const running = startLoad(load(options.moveTimeout + 60, 100 + round));
      let move: MoveMeasure;
      try {
        await sleep(options.leadIn);
        move = await moveTenant(api, adminKey, mover.slug, to, options.moveTimeout);
      } finally {
        running.stop();
      }
      const duringLoad = await running.result;
      // With --worker-process the serving process may route M to its old placement (503) until its
      // cached lookup expires: those refusals belong to the move, not to the next round's control.
      if (options.workerProcess) await sleep(WORKER_PROCESS_TENANT_CACHE_TTL_MS + 250);
      const during = { load: duringLoad, writes: await duringWrites.stop() };
      placement = to;
      moverExpected += alone.writes.accepted + during.writes.accepted;
      const found = await withClient(superuserUrlOf(placement), async (client) =>
        Number((await client.query<{ n: string }>('select count(*) as n from documents where tenant_id = $1', [mover.id])).rows[0].n),
      );
      rounds.push({ alone, during, move, moverDocuments: { found, expected: moverExpected } });
      log(
        `round ${round + 1}: p99 ${alone.load.p99.toFixed(2)} -> ${during.load.p99.toFixed(2)} ms, move ${(move.clientMs / 1000).toFixed(2)} s, ` +
          `pause ${(move.pauseMs / 1000).toFixed(2)} s, mover writes ${during.writes.accepted} accepted / ${during.writes.refused} refused`,
      );
    }
    const loadAfter = os.loadavg();

    const report = renderReport({ options, startedAt, postgres: postgres.description, loadBefore, loadAfter, rounds });
    const resultsDir = path.resolve(__dirname, '..', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    writeFileSync(path.join(resultsDir, `move-${stamp}.md`), report);
    writeFileSync(path.join(resultsDir, 'move-latest.md'), report);
    writeFileSync(path.join(resultsDir, `move-${stamp}.json`), JSON.stringify({ startedAt, options, loadBefore, loadAfter, rounds }, null, 2));
    process.stdout.write(report);
    if (failures(rounds).length > 0) process.exitCode = 1;
  } finally {
    for (const step of cleanup) await step().catch((error) => log(`cleanup: ${error}`));
  }
}

/** What must not happen: a bystander's request failing, a write of the mover answered other than 201/503 TENANT_MOVING, a write lost. */
function failures(rounds: Round[]): string[] {
  return rounds.flatMap((round, i) => [
    ...(failedRequests(round.alone.load) + failedRequests(round.during.load) > 0
      ? [`round ${i + 1}: bystanders' requests failed (${JSON.stringify(round.alone.load.statusCodes)} alone, ${JSON.stringify(round.during.load.statusCodes)} during the move)`]
      : []),
    ...(otherCount(round.alone.writes) + otherCount(round.during.writes) > 0
      ? [`round ${i + 1}: mover's writes answered ${JSON.stringify({ ...round.alone.writes.other, ...round.during.writes.other })}`]
      : []),
    ...(round.alone.writes.refused > 0 ? [`round ${i + 1}: ${round.alone.writes.refused} of the mover's writes refused with no move running`] : []),
    ...(round.moverDocuments.found !== round.moverDocuments.expected
      ? [`round ${i + 1}: the mover has ${round.moverDocuments.found} documents on ${round.move.to}, ${round.moverDocuments.expected} expected`]
      : []),
  ]);
}

interface ReportInput {
  options: Options;
  startedAt: Date;
  postgres: string;
  loadBefore: number[];
  loadAfter: number[];
  rounds: Round[];
}

function renderReport(input: ReportInput): string {
  const { options, rounds } = input;
  const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const s = (ms: number) => `${f(ms / 1000)} s`;
  const loads = (l: number[]) => l.map((v) => v.toFixed(2)).join(', ');
  const p99Ratio = rounds.map((r) => r.during.load.p99 / r.alone.load.p99);
  const p50Ratio = rounds.map((r) => r.during.load.p50 / r.alone.load.p50);
  const problems = failures(rounds);
  const sending = options.rate ? `an open loop at ${options.rate} requests/s on up to ${options.connections} sockets (latency counted from when each request was due)` : `a closed loop on ${options.connections} connections`;
  const writes = (w: WriteCounts) => `${w.accepted} / ${w.refused}${otherCount(w) ? ` / **${otherCount(w)} other**` : ''}`;

  const lines = [
    `# Live tenant moves: what they cost the other tenants (${input.startedAt.toISOString()})`,
    '',
    `${os.cpus().length} cores, Node ${process.version}; ${input.postgres}; ${
      options.workerProcess
        ? `two API processes: one serves every request (JOBS_WORKER off), the other runs the move's job (--worker-process; TENANT_CACHE_TTL_MS ${WORKER_PROCESS_TENANT_CACHE_TTL_MS} in both)`
        : 'the API (jobs worker on: the move runs in the process serving the load)'
    }, the load generator, the bench and PostgreSQL on the same machine.`,
    `Load average before ${loads(input.loadBefore)}, after ${loads(input.loadAfter)} (other work on the machine shows here).`,
    `Options: ${JSON.stringify(options)}.`,
    '',
    `The mover M: ${options.docs} documents seeded. ${options.bystanders} bystanders x ${options.bystanderDocs} documents, staying on the shared database. All created by POST /tenants (owners sign in: JWT). ` +
      `Bystanders' load: GET /documents/:id spread over their documents, ${sending}, document cache off. ` +
      `M writes (POST /documents, one at a time, ${options.writeRate}/s) in both phases, so the phases differ by the move only. ` +
      `Alone: ${options.duration} s. During the move: the load starts, ${options.leadIn} ms later POST /tenants/M/move, and the load stops when GET /tenant-moves/:id shows the move ended ` +
      `(polled every ${POLL_MS} ms): the window holds the job's wait in the queue (JOBS_POLL_INTERVAL_MS ${JOBS_POLL_INTERVAL_MS}), pause, barrier, copy, verification, switch and cleaning.`,
    '',
    "## The bystanders",
    '',
    '| round | move | p50 / p99 alone | p50 / p99 during the move | p99 ratio | p50 ratio | requests during the move | non-2xx alone / during |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rounds.map((r, i) => {
      const a = r.alone.load;
      const d = r.during.load;
      return (
        `| ${i + 1} | ${r.move.from} -> ${r.move.to} | ${f(a.p50)} / ${f(a.p99)} ms | ${f(d.p50)} / ${f(d.p99)} ms | ${f(p99Ratio[i])}x | ${f(p50Ratio[i])}x | ` +
        `${d.totalRequests} in ${f(d.durationSeconds)} s (${f(d.requestsPerSecond, 0)}/s) | ${failedRequests(a)} / ${failedRequests(d)} |`
      );
    }),
    '',
    '## The move and the mover',
    '',
    'Move times from the report (GET /tenant-moves/:id): startedAt, pausedAt, resumedAt (the switch: writes resume on the target), finishedAt (after cleaning the source). ' +
      '"Refusals seen over": from the first to the last 503 the mover got, as the client saw them.',
    '',
    '| round | move | wall time (client) | start -> finish | queued (start -> paused) | write pause (paused -> resumed) | rows copied | M writes during: 201 / 503 TENANT_MOVING | refusals seen over | M writes alone: 201 / 503 | M documents after = expected |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rounds.map(
      (r, i) =>
        `| ${i + 1} | ${r.move.from} -> ${r.move.to} | ${s(r.move.clientMs)} | ${s(r.move.serverMs)} | ${s(r.move.queuedMs)} | ${s(r.move.pauseMs)} | ${r.move.rowsCopied} | ` +
        `${writes(r.during.writes)} | ${s(r.during.writes.refusedSpanMs)} | ${writes(r.alone.writes)} | ${r.moverDocuments.found} = ${r.moverDocuments.expected}${r.moverDocuments.found === r.moverDocuments.expected ? '' : ' **no**'} |`,
    ),
    '',
    `Median ratio of the bystanders' p99 (during the move / alone): **${f(median(p99Ratio))}x** (per round ${p99Ratio.map((r) => f(r)).join(', ')}); of their p50: **${f(median(p50Ratio))}x**.`,
    `Bystanders' non-2xx: ${rounds.reduce((n, r) => n + failedRequests(r.alone.load) + failedRequests(r.during.load), 0)} in all (must be 0).`,
    `Move wall time, median: ${s(median(rounds.map((r) => r.move.clientMs)))}; write pause, median: ${s(median(rounds.map((r) => r.move.pauseMs)))}. ` +
      `M's writes during the moves: ${rounds.reduce((n, r) => n + r.during.writes.accepted, 0)} accepted, ${rounds.reduce((n, r) => n + r.during.writes.refused, 0)} refused 503 TENANT_MOVING, ` +
      `${rounds.reduce((n, r) => n + otherCount(r.during.writes), 0)} other.`,
    'No target is set for this (issue 14 asks for "others unaffected, measured"): the figures are as measured.',
    '',
    ...(problems.length ? ['**Failures:**', '', ...problems.map((p) => `- ${p}`), ''] : ['No failure: every bystander request 2xx, every write of M 201 or 503 TENANT_MOVING, every accepted write found after each move.', '']),
  ];
  return lines.join('\n');
}

main().catch((error) => {
  process.stderr.write(`bench:move failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
