import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { z } from 'zod';
import { tenantTables } from './test-database';
import { AppRoute, discoverRoutes, jsonSchemaOf, routeKey, sampleOf } from './app-routes';
import { addMember, createApiKey, invite } from '../identity/identity-fixtures';
import { JobsService } from '../../src/jobs/jobs.service';
import { ExportsRepository } from '../../src/exports/exports.repository';
import { TenantExporter } from '../../src/exports/tenant-exporter';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { ApiResponse, RequestOptions, startTestApp, StartTestAppOptions, TestApp } from './test-app';

/**
 * Isolation harness: finds what to attack by itself.
 *
 * - Routes: every handler of every controller the Nest container holds whose
 *   access metadata (ROUTE_ACCESS) is 'tenant', with its method and path from
 *   Nest's route metadata, cross-checked against Fastify's router (hasRoute),
 *   so a new route is attacked without anyone listing it.
 * - Tables: every base table of schema public with a tenant_id column, read
 *   from the live catalog; the victim must have rows in every one (else the
 *   harness throws naming the table), and every UUID in the victim's rows (ids,
 *   user ids, parents) becomes an id to attack with.
 * - For each route with path params, as the attacker (an owner: the role never
 *   blocks): a positive control with the attacker's own ids must answer 2xx;
 *   then each victim id goes into each param, the other params keep the
 *   attacker's own ids, and the answer must equal (status and body, without
 *   requestId/timestamp/path, the tried id masked) the answer for a random UUID
 *   in the same place; routes with several params are also called with victim
 *   ids in all of them (from the tables the own ids came from: the victim's
 *   document with the victim's comment). DELETE routes are attacked after everything else and
 *   their positive controls run last (deepest routes first).
 * - Every tenant route without path params (lists, creates) must answer 2xx,
 *   and no positive control may carry any victim id anywhere in its body.
 *   Ids sent in request bodies are not attacked (no tenant route takes one today).
 * - The victim's rows must be byte-for-byte the same after the attack.
 */

export type HarnessRoute = AppRoute;
export { routeKey, tenantTables };

/** What the harness's sampled strings start with. */
const HARNESS_LABEL = 'isolation-harness';

/** What a route needs that its schemas cannot say (e.g. the upload's file name, checked in the service). */
export interface RequestHint {
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
}

export interface Leak {
  route: string;
  param: string;
  /** The victim's id that was substituted, and where it came from (table.column). */
  victimId: string;
  source: string;
  foreign: string;
  random: string;
}

export interface IsolationReport {
  /** Every tenant route found ("GET /documents/:id"). */
  routes: string[];
  /** Every tenant table found in the catalog. */
  tables: string[];
  /** Victim ids attacked with, by id: the table.column it was read from. */
  victimIds: Map<string, string>;
  /** Answers to a victim id that differ from the answer to a random id. */
  leaks: Leak[];
  /** Routes whose own-id (or param-less) answer contains victim ids. */
  bodyLeaks: Array<{ route: string; path: string; victimIds: string[] }>;
  /** Routes for which no call with the attacker's own ids answered 2xx: their comparisons prove nothing. */
  noPositiveControl: Array<{ route: string; attempts: string[] }>;
  /** The own-id call that answered 2xx, by route. */
  positiveControls: Map<string, string>;
  /** The status a random UUID got, by "route :param" (what every victim id was compared with). */
  randomStatuses: Map<string, number>;
  /** Tenant tables whose victim rows changed during the attack. */
  victimDataChanged: string[];
  calls: number;
}

export interface HarnessOptions {
  t: TestApp;
  /** Tenant slug or id of the attacker, and the attacker's user id (never targeted, so it cannot lock itself out). */
  attacker: { tenant: string; tenantId: string; userId: string; superuserUrl?: string };
  /** superuserUrl: where the tenant's rows are (a dedicated database); default the app's database. */
  victim: { tenantId: string; superuserUrl?: string };
  hints?: Record<string, RequestHint>;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const MAX_POSITIVE_ATTEMPTS = 40;
const CONCURRENCY = 8;

// ---------------------------------------------------------------- discovery

/** Every tenant route (ROUTE_ACCESS 'tenant') of every controller in the running application. */
export function discoverTenantRoutes(app: INestApplication): HarnessRoute[] {
  return discoverRoutes(app).filter((route) => route.access === 'tenant');
}


// ---------------------------------------------------------------- request bodies

/** Only the required query fields (optional ones such as cursors have meaning a sample cannot give). */
function sampleQuery(schema: z.ZodType | undefined): Record<string, string> {
  const json = jsonSchemaOf(schema);
  const out: Record<string, string> = {};
  for (const key of (json?.required as string[] | undefined) ?? []) out[key] = String(sampleOf(json?.properties?.[key], key, '', HARNESS_LABEL));
  return out;
}

// ---------------------------------------------------------------- helpers

function stableText(response: ApiResponse, ...maskedIds: string[]): string {
  let body: unknown = response.body;
  if (body && typeof body === 'object' && !Buffer.isBuffer(body) && !Array.isArray(body)) {
    body = { ...(body as object), requestId: undefined, timestamp: undefined, path: undefined };
  }
  let text = typeof body === 'string' ? body : (JSON.stringify(body) ?? '');
  for (const id of maskedIds) text = text.split(id).join('<ID>');
  return `${response.status} ${text}`;
}

function short(response: ApiResponse): string {
  return stableText(response).slice(0, 300);
}

const is2xx = (response: ApiResponse) => response.status >= 200 && response.status < 300;

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toLowerCase();
}

/** The path up to and including `param`: the key under which a working own value is remembered. */
function prefixThrough(path: string, param: string): string {
  const at = path.indexOf(`:${param}`);
  return path.slice(0, at + param.length + 1);
}

/** Tables a param probably refers to: `:xId` -> x's table, `:id` -> the segment before it. */
function tablesFor(path: string, param: string, tables: string[]): string[] {
  let resource: string | undefined;
  if (param === 'id') {
    const segments = path.slice(0, path.indexOf(`:${param}`)).split('/').filter((s) => s && !s.startsWith(':'));
    resource = segments.at(-1);
  } else if (/Id$/.test(param)) resource = param.slice(0, -2);
  if (!resource) return [];
  const name = snake(resource);
  return tables.filter((t) => t === name || t === `${name}s` || t === `${name}es` || t.replace(/s$/, '') === name);
}

function* combinations(lists: string[][], limit: number): Generator<string[]> {
  // Breadth-first over the sum of indexes: the most likely candidates (first in each list) first.
  const maxSum = lists.reduce((sum, list) => sum + list.length - 1, 0);
  let produced = 0;
  for (let sum = 0; sum <= maxSum; sum++) {
    const walk = function* (i: number, left: number, acc: string[]): Generator<string[]> {
      if (i === lists.length) {
        if (left === 0) yield acc;
        return;
      }
      for (let k = 0; k <= Math.min(left, lists[i].length - 1); k++) yield* walk(i + 1, left - k, [...acc, lists[i][k]]);
    };
    for (const combo of walk(0, sum, [])) {
      yield combo;
      if (++produced >= limit) return;
    }
  }
}

/** The request the harness sends to a route as `tenant`, params filled from `values`, body and query sampled from its schemas. */
function requestFor(
  route: HarnessRoute,
  tenant: string,
  values: Record<string, string>,
  hints: Record<string, RequestHint>,
  variant = '',
): { path: string; request: RequestOptions } {
  const hint = hints[routeKey(route)] ?? {};
  const path = route.path.replace(/:(\w+)/g, (_, param: string) => encodeURIComponent(values[param]));
  const query = new URLSearchParams({ ...sampleQuery(route.querySchema), ...hint.query }).toString();
  const request: RequestOptions = { tenant, headers: { ...hint.headers } };
  if (route.hasBody) request.body = hint.body ?? sampleOf(jsonSchemaOf(route.bodySchema), '', variant, HARNESS_LABEL) ?? {};
  else if (['POST', 'PUT', 'PATCH'].includes(route.method)) {
    request.rawBody = hint.rawBody ?? 'isolation harness bytes\n';
    request.headers = { 'content-type': 'application/octet-stream', ...request.headers };
  }
  return { path: query ? `${path}?${query}` : path, request };
}

/**
 * Rows for tables nobody told the harness about: every tenant POST route without
 * path params (the "create" of a feature) is called once as the tenant with a
 * body sampled from its schema. A new feature's table so gets rows without any
 * line in seedTenantData; the harness still fails naming a table that stays empty.
 */
export async function seedThroughCreateRoutes(t: TestApp, tenant: string, hints: Record<string, RequestHint> = {}): Promise<void> {
  for (const route of discoverTenantRoutes(t.app).filter((r) => r.method === 'POST' && r.params.length === 0)) {
    // A variant of the sampled values, so the attack's own creates later do not collide with these on unique names.
    const { path, request } = requestFor(route, tenant, {}, hints, '-seed');
    await t.request(route.method, path, request);
  }
}

// ---------------------------------------------------------------- the harness

interface TenantRows {
  /** table.column -> distinct UUIDs in that column of the tenant's rows. */
  bySource: Map<string, string[]>;
  /** table -> the tenant's rows, serialized (to detect changes). */
  snapshot: Map<string, string>;
}

/** Each id once, named after the most telling column: primary keys first (documents.id, not comments.document_id), then *_id references (memberships.user_id, not api_keys.created_by). */
function labelIds(rows: TenantRows): Map<string, string> {
  const rank = (source: string) => (source.endsWith('.id') ? 0 : source.endsWith('_id') ? 1 : 2);
  const labels = new Map<string, string>();
  for (const [source, ids] of [...rows.bySource].sort(([a], [b]) => rank(a) - rank(b))) for (const id of ids) if (!labels.has(id)) labels.set(id, source);
  return labels;
}

async function readTenantRows(client: pg.Client, tables: string[], tenantId: string): Promise<TenantRows> {
  const bySource = new Map<string, string[]>();
  const snapshot = new Map<string, string>();
  for (const table of tables) {
    const { rows } = await client.query(`select * from "${table}" where tenant_id = $1 order by 1, 2`, [tenantId]);
    snapshot.set(table, JSON.stringify(rows));
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        if (column === 'tenant_id' || typeof value !== 'string' || !new RegExp(`^${UUID.source}$`, 'i').test(value)) continue;
        const source = `${table}.${column}`;
        const list = bySource.get(source) ?? [];
        if (!list.includes(value.toLowerCase())) list.push(value.toLowerCase());
        bySource.set(source, list);
      }
    }
  }
  return { bySource, snapshot };
}

export async function runIsolationHarness(options: HarnessOptions): Promise<IsolationReport> {
  const { t, attacker, victim, hints = {} } = options;
  const routes = discoverTenantRoutes(t.app);
  const client = new pg.Client({ connectionString: victim.superuserUrl ?? t.db.superuserUrl });
  await client.connect();
  const attackerClient = new pg.Client({ connectionString: attacker.superuserUrl ?? t.db.superuserUrl });
  await attackerClient.connect();
  try {
    const tables = await tenantTables(client);
    const victimRows = await readTenantRows(client, tables, victim.tenantId);
    const uncovered = tables.filter((table) => victimRows.snapshot.get(table) === '[]');
    if (uncovered.length) {
      throw new Error(
        `isolation harness: tenant table(s) with no rows for the victim tenant: ${uncovered.join(', ')}. ` +
          'Seed them through the API (seedTenantData) so their ids are attacked.',
      );
    }
    const ownRows = await readTenantRows(attackerClient, tables, attacker.tenantId);
    const ownIds = new Set([...ownRows.bySource.values()].flat());

    // Victim ids: every UUID in the victim's rows that is not also the attacker's (a shared user, say), plus the victim tenant id.
    const victimIds = new Map<string, string>([[victim.tenantId.toLowerCase(), 'tenants.id']]);
    for (const [id, source] of labelIds(victimRows)) if (!ownIds.has(id) && id !== attacker.userId && !victimIds.has(id)) victimIds.set(id, source);
    const ownSources = labelIds(ownRows);

    const report: IsolationReport = {
      routes: routes.map(routeKey),
      tables,
      victimIds,
      leaks: [],
      bodyLeaks: [],
      noPositiveControl: [],
      positiveControls: new Map(),
      randomStatuses: new Map(),
      victimDataChanged: [],
      calls: 0,
    };

    const call = (route: HarnessRoute, values: Record<string, string>) => {
      const { path, request } = requestFor(route, attacker.tenant, values, hints);
      report.calls++;
      return t.request(route.method, path, request).then((response) => ({ response, path: path.split('?')[0] }));
    };

    const scanForVictimIds = (route: HarnessRoute, path: string, response: ApiResponse) => {
      const text = typeof response.body === 'string' ? response.body : Buffer.isBuffer(response.body) ? response.body.toString('latin1') : JSON.stringify(response.body ?? '');
      const found = [...new Set((text.match(UUID) ?? []).map((id) => id.toLowerCase()))].filter((id) => victimIds.has(id));
      if (found.length) report.bodyLeaks.push({ route: routeKey(route), path, victimIds: found });
    };

    // Own values that worked, by the path prefix through the param ("/documents/:id").
    const learned = new Map<string, string>();
    const allOwn = [...new Set([...ownRows.bySource.values()].flat())].filter((id) => id !== attacker.userId);

    const candidates = (route: HarnessRoute, param: string): string[] => {
      const inferred: string[] = [];
      for (const table of tablesFor(route.path, param, tables)) inferred.push(...(ownRows.bySource.get(`${table}.id`) ?? []));
      if (param !== 'id') {
        for (const [source, ids] of ownRows.bySource) if (source.endsWith(`.${snake(param)}`)) inferred.push(...ids);
      }
      const first = learned.get(prefixThrough(route.path, param));
      return [...new Set([...(first ? [first] : []), ...inferred, ...allOwn])].filter((id) => id !== attacker.userId);
    };

    /** Tries own ids until one call answers 2xx; remembers what worked. Returns the values to fill params with. */
    const positiveControl = async (route: HarnessRoute): Promise<Record<string, string>> => {
      const lists = route.params.map((param) => candidates(route, param));
      const attempts: string[] = [];
      for (const combo of combinations(lists, MAX_POSITIVE_ATTEMPTS)) {
        const values = Object.fromEntries(route.params.map((param, i) => [param, combo[i]]));
        const { response, path } = await call(route, values);
        if (is2xx(response)) {
          report.positiveControls.set(routeKey(route), path);
          for (const param of route.params) learned.set(prefixThrough(route.path, param), values[param]);
          scanForVictimIds(route, path, response);
          return values;
        }
        attempts.push(`${path} -> ${short(response)}`);
      }
      report.noPositiveControl.push({ route: routeKey(route), attempts });
      return Object.fromEntries(route.params.map((param, i) => [param, lists[i][0] ?? randomUUID()]));
    };

    /** The values a DELETE route is attacked with, without calling it: what other routes learned, else the best guess. */
    const guessedValues = (route: HarnessRoute) => Object.fromEntries(route.params.map((param) => [param, candidates(route, param)[0] ?? randomUUID()]));

    const attack = async (route: HarnessRoute, own: Record<string, string>) => {
      for (const param of route.params) {
        const random = randomUUID();
        const { response: randomResponse } = await call(route, { ...own, [param]: random });
        report.randomStatuses.set(`${routeKey(route)} :${param}`, randomResponse.status);
        const expected = stableText(randomResponse, random);
        await mapLimit([...victimIds], CONCURRENCY, async ([victimId, source]) => {
          const { response } = await call(route, { ...own, [param]: victimId });
          const seen = stableText(response, victimId);
          if (seen !== expected) report.leaks.push({ route: routeKey(route), param, victimId, source, foreign: seen.slice(0, 300), random: expected.slice(0, 300) });
        });
      }
      // All params foreign at once (a victim's document with the victim's comment): victim ids from the tables the own ids came from.
      if (route.params.length < 2) return;
      const sources = route.params.map((param) => ownSources.get(own[param]));
      const lists = sources.map((source) => [...victimIds].filter(([, s]) => s === source).map(([id]) => id));
      if (lists.some((list) => list.length === 0)) return;
      const randoms = route.params.map(() => randomUUID());
      const { response: randomResponse } = await call(route, Object.fromEntries(route.params.map((param, i) => [param, randoms[i]])));
      const slot = route.params.map((param) => `:${param}`).join('+');
      report.randomStatuses.set(`${routeKey(route)} ${slot}`, randomResponse.status);
      const expected = stableText(randomResponse, ...randoms);
      await mapLimit([...combinations(lists, 16)], CONCURRENCY, async (combo) => {
        const { response } = await call(route, Object.fromEntries(route.params.map((param, i) => [param, combo[i]])));
        const seen = stableText(response, ...combo);
        if (seen !== expected) {
          report.leaks.push({ route: routeKey(route), param: slot.replace(/:/g, ''), victimId: combo.join('/'), source: sources.join('/'), foreign: seen.slice(0, 300), random: expected.slice(0, 300) });
        }
      });
    };

    // Routes without path params (lists, creates): 2xx, and not one victim id in the body. GETs first: a create must not hide what a list shows.
    const paramless = routes.filter((r) => r.params.length === 0 && r.method !== 'DELETE').sort((a, b) => Number(a.method !== 'GET') - Number(b.method !== 'GET'));
    for (const route of paramless) {
      const { response, path } = await call(route, {});
      if (is2xx(response)) {
        report.positiveControls.set(routeKey(route), path);
        scanForVictimIds(route, path, response);
      } else report.noPositiveControl.push({ route: routeKey(route), attempts: [`${path} -> ${short(response)}`] });
    }

    const withParams = routes.filter((r) => r.params.length > 0);
    const byDepth = (a: HarnessRoute, b: HarnessRoute) => a.params.length - b.params.length || a.path.localeCompare(b.path);
    const reads = withParams.filter((r) => r.method === 'GET').sort(byDepth);
    const writes = withParams.filter((r) => r.method !== 'GET' && r.method !== 'DELETE').sort(byDepth);
    const deletes = withParams.filter((r) => r.method === 'DELETE').sort(byDepth);

    // Reads first (shallow routes teach the own ids deeper ones need), then non-destructive writes.
    const own = new Map<HarnessRoute, Record<string, string>>();
    for (const route of [...reads, ...writes]) own.set(route, await positiveControl(route));
    for (const route of [...reads, ...writes]) await attack(route, own.get(route)!);
    // Deletes: attacked with the learned own ids, then their own positive controls, deepest first so parents still exist.
    for (const route of deletes) await attack(route, guessedValues(route));
    for (const route of [...deletes].reverse()) await positiveControl(route);

    const after = await readTenantRows(client, tables, victim.tenantId);
    report.victimDataChanged = tables.filter((table) => after.snapshot.get(table) !== victimRows.snapshot.get(table));
    return report;
  } finally {
    await client.end();
    await attackerClient.end();
  }
}

/** One line per problem; empty when the attack found nothing. */
export function describeProblems(report: IsolationReport, ignoreRoutes: string[] = []): string[] {
  const keep = (route: string) => !ignoreRoutes.includes(route);
  return [
    ...report.leaks.filter((l) => keep(l.route)).map((l) => `LEAK ${l.route} :${l.param}=${l.source} (${l.victimId}): ${l.foreign} vs random: ${l.random}`),
    ...report.bodyLeaks.filter((l) => keep(l.route)).map((l) => `VICTIM IDS IN BODY ${l.route} (${l.path}): ${l.victimIds.map((id) => `${id} from ${report.victimIds.get(id)}`).join(', ')}`),
    ...report.noPositiveControl.filter((p) => keep(p.route)).map((p) => `NO POSITIVE CONTROL ${p.route}: ${p.attempts.slice(0, 3).join(' | ')}`),
    ...report.victimDataChanged.map((table) => `VICTIM ROWS CHANGED in ${table}`),
  ];
}

/** Distinct routes with a leak (answer differs for a victim id) or a victim id in an own-id answer. */
export function leakingRoutes(report: IsolationReport): string[] {
  return [...new Set([...report.leaks.map((l) => l.route), ...report.bodyLeaks.map((l) => l.route)])].sort();
}

// ---------------------------------------------------------------- seeding

/**
 * Data in every tenant table, through the API as the tenant's owner: a second
 * member (membership + accepted invitation), a pending invitation, an API key,
 * two documents with comments, an attachment and an embedding, a background job (no route
 * creates one: enqueued in the tenant's context, as a feature does; the test
 * app runs no worker, so it stays queued). The harness then checks that
 * every tenant table really got rows, so a new table needs a line here.
 */
const HARNESS_JOB_KIND = 'harness.seed';

export async function seedTenantData(t: TestApp, tenant: string): Promise<void> {
  const ok = (what: string, response: ApiResponse, status: number) => {
    if (response.status !== status) throw new Error(`seed ${tenant}: ${what} -> ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  };
  await addMember(t, tenant, 'member', `member-${tenant}-${randomUUID().slice(0, 8)}@people.test`);
  await invite(t, tenant, `pending-${tenant}-${randomUUID().slice(0, 8)}@people.test`, 'viewer');
  await createApiKey(t, tenant, 'viewer');
  const jobs = t.app.get(JobsService);
  try {
    jobs.register(HARNESS_JOB_KIND, async () => ({}));
  } catch {
    // Registered by the other tenant's seed on this app.
  }
  await t.app.get(TenantResolver).runForTenant(tenant, () => jobs.enqueue(HARNESS_JOB_KIND, {}));
  // An export row (queued: test apps run no worker unless asked; with one, it writes an archive under exports/).
  ok('export', await t.request('POST', '/exports', { tenant }), 202);
  for (const n of [1, 2]) {
    const doc = ok('document', await t.request('POST', '/documents', { tenant, body: { title: `${tenant} doc ${n}`, body: `${tenant} secret ${n}`, tags: ['seed'] } }), 201);
    ok('comment', await t.request('POST', `/documents/${doc.id}/comments`, { tenant, body: { body: `${tenant} comment ${n}` } }), 201);
    ok(
      'attachment',
      await t.request('POST', `/documents/${doc.id}/attachments?filename=seed-${n}.txt`, { tenant, rawBody: `${tenant} file ${n}`, headers: { 'content-type': 'text/plain' } }),
      201,
    );
    ok('embedding', await t.request('PUT', `/documents/${doc.id}/embedding`, { tenant, body: { embedding: HARNESS_EMBEDDING } }), 201);
  }
}

/** A valid embedding for the default EMBEDDING_DIMENSION (384): semantic search's routes (src/search). */
const HARNESS_EMBEDDING = Array.from({ length: 384 }, (_, i) => ((i % 5) + 1) / 5);

/** What the schemas cannot tell the harness: the upload's file name is checked in the service. */
const DEFAULT_HINTS: Record<string, RequestHint> = {
  'POST /documents/:id/attachments': { query: { filename: 'harness.txt' }, headers: { 'content-type': 'text/plain' } },
  'PUT /documents/:id/embedding': { body: { embedding: HARNESS_EMBEDDING } },
  'POST /documents/search': { body: { vector: HARNESS_EMBEDDING, k: 100 } },
  // Takes no body: a JSON route refuses the harness's raw bytes (415), so an empty JSON object.
  'POST /exports': { rawBody: '{}', headers: { 'content-type': 'application/json' } },
};

/**
 * A succeeded export of the tenant (POST /exports only queues one: no worker runs in the harness),
 * written in-process as the CLI does, so its download route has an own id that answers 2xx.
 */
export async function seedSucceededExport(t: TestApp, tenant: string): Promise<string> {
  return await t.app.get(TenantResolver).runForTenant(tenant, async () => {
    const row = await t.app.get(ExportsRepository).create({ id: randomUUID(), requestedBy: 'isolation-harness' });
    await t.app.get(TenantExporter).run(row.id, { final: true });
    return row.id;
  });
}

export interface AttackedApp {
  t: TestApp;
  report: IsolationReport;
  /** Stops the app, drops its database and removes its file storage. */
  release(): Promise<void>;
}

export interface AttackOptions {
  /** Extra (test-only) modules mounted beside the application's own. */
  imports?: StartTestAppOptions['imports'];
  /** Runs on the started app before seeding (e.g. migrations of a test-only table). */
  prepare?: (t: TestApp) => Promise<void>;
  /** Environment of the app (e.g. TENANT_DATABASES). */
  env?: Record<string, string>;
  /** Where each tenant is placed (POST /tenants `database`), and that database's superuser URL to read its rows. */
  placements?: Partial<Record<'alpha' | 'bravo', { database: string; superuserUrl: string }>>;
}

/** A fresh app, two seeded tenants (alpha attacks, bravo is the victim), and the harness run as alpha's owner. */
export async function attackFreshApp(label: string, options: AttackOptions = {}): Promise<AttackedApp> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tenancy-harness-'));
  // No periodic flush of counted requests meanwhile: it would write the victim's own request counts to the
  // ledger during the attack (a slow run takes longer than the default interval), which is not a leak.
  const t = await startTestApp({ DATA_DIR: dataDir, USAGE_FLUSH_INTERVAL_MS: '3600000', ...options.env }, { imports: options.imports });
  const release = async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await options.prepare?.(t);
    const { placements = {} } = options;
    const placed = (who: 'alpha' | 'bravo') => (placements[who] ? { database: placements[who].database } : {});
    const alpha = await t.createTenant(`${label}-alpha`, placed('alpha'));
    // (switch-tenant below: to the tenant the token is already for, the one own id that route takes.)
    const bravo = await t.createTenant(`${label}-bravo`, placed('bravo'));
    const hints = { ...DEFAULT_HINTS, 'POST /auth/switch-tenant': { body: { tenant: alpha.id } } };
    const seed = async (tenant: string) => {
      await seedTenantData(t, tenant);
      await seedThroughCreateRoutes(t, tenant, hints);
      await seedSucceededExport(t, tenant);
    };
    await Promise.all([seed(alpha.slug), seed(bravo.slug)]);
    const me = await t.request('GET', '/me', { tenant: alpha.slug });
    if (me.status !== 200) throw new Error(`GET /me -> ${me.status}`);
    const report = await runIsolationHarness({
      t,
      attacker: { tenant: alpha.slug, tenantId: alpha.id, userId: me.body.user.id, superuserUrl: placements.alpha?.superuserUrl },
      victim: { tenantId: bravo.id, superuserUrl: placements.bravo?.superuserUrl },
      hints,
    });
    return { t, report, release };
  } catch (error) {
    await release();
    throw error;
  }
}
