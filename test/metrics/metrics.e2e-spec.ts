import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Exposition, parsePrometheusText, valueOf } from '../helpers/prometheus-text';
import { startTestApp, TestApp } from '../helpers/test-app';

const UNKNOWN_DOCUMENT = '00000000-0000-4000-8000-0000000000ff';

/**
 * GET /metrics on a real server, both adapters: a known set of requests, then
 * one scrape whose text is parsed and checked series by series.
 */
describe.each(['fastify', 'express'] as const)('GET /metrics (%s)', (adapter) => {
  let t: TestApp;
  let dataDir: string;
  let tenant: { id: string; slug: string };
  let scraped: Exposition;
  let contentType: string | null;

  const http = (labels: Record<string, string>) => valueOf(scraped, 'http_server_requests_total', labels);

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'metrics-'));
    t = await startTestApp({ HTTP_ADAPTER: adapter, DATA_DIR: dataDir });
    // POST /tenants (201, no tenant) and POST /auth/login (200, the tenant resolved).
    tenant = await t.createTenant(`metrics-${adapter}`);
    for (let i = 0; i < 2; i++) expect((await t.request('GET', '/health')).status).toBe(200);
    expect((await t.request('GET', '/no-such-route/123')).status).toBe(404);
    expect((await t.request('GET', '/documents', { tenant: tenant.slug, auth: false })).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await t.request('GET', '/documents', { tenant: tenant.slug })).status).toBe(200);
    expect((await t.request('GET', `/documents/${UNKNOWN_DOCUMENT}`, { tenant: tenant.slug })).status).toBe(404);

    const response = await t.request<string>('GET', '/metrics', { admin: true });
    expect(response.status).toBe(200);
    contentType = response.headers.get('content-type');
    scraped = parsePrometheusText(response.body);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers in the Prometheus text format', () => {
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(scraped.types.get('http_server_requests_total')).toBe('counter');
    expect(scraped.types.get('http_server_request_duration_seconds')).toBe('histogram');
    // Default process metrics of this registry.
    expect(valueOf(scraped, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('counts requests by method, route template and status, errors and unmatched routes included', () => {
    expect(http({ method: 'GET', route: '/health', status_code: '200' })).toBe(2);
    expect(http({ method: 'POST', route: '/tenants', status_code: '201' })).toBe(1);
    expect(http({ method: 'POST', route: '/auth/login', status_code: '200' })).toBe(1);
    expect(http({ method: 'GET', route: '/documents', status_code: '200' })).toBe(3);
    expect(http({ method: 'GET', route: '/documents', status_code: '401' })).toBe(1);
    expect(http({ method: 'GET', route: '/documents/:id', status_code: '404' })).toBe(1);
    expect(http({ method: 'GET', route: '(unmatched)', status_code: '404' })).toBe(1);
    // Never the raw URL.
    const routes = new Set(scraped.samples.filter((s) => s.name === 'http_server_requests_total').map((s) => s.labels.route));
    expect([...routes].filter((route) => route.includes(UNKNOWN_DOCUMENT) || route.includes('no-such-route'))).toEqual([]);
  });

  it('observes durations in the histogram with the same labels', () => {
    const labels = { method: 'GET', route: '/documents', status_code: '200' };
    expect(valueOf(scraped, 'http_server_request_duration_seconds_count', labels)).toBe(3);
    expect(valueOf(scraped, 'http_server_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(3);
    expect(valueOf(scraped, 'http_server_request_duration_seconds_sum', labels)).toBeGreaterThan(0);
  });

  it('counts the resolved tenant\'s requests and errors under its id', () => {
    // login + 3 lists + the 404; the 401 had no credential, so no tenant was resolved.
    expect(valueOf(scraped, 'tenant_http_requests_total', { tenant: tenant.id })).toBe(5);
    expect(valueOf(scraped, 'tenant_http_request_errors_total', { tenant: tenant.id, status_class: '4xx' })).toBe(1);
    expect(valueOf(scraped, 'tenant_http_requests_total', { tenant: 'other' })).toBeUndefined();
  });

  it('reports the database pools, the cache and storage errors', () => {
    expect(valueOf(scraped, 'db_pool_connections')).toBeGreaterThanOrEqual(1);
    expect(valueOf(scraped, 'db_pool_connections_idle')).toBeGreaterThanOrEqual(0);
    expect(valueOf(scraped, 'db_pool_clients_waiting')).toBe(0);
    expect(valueOf(scraped, 'db_pool_connections_max')).toBe(10);
    // The pool manager: the shared pool only (no TENANT_DATABASES), within the default budget.
    expect(valueOf(scraped, 'db_pools_open')).toBe(1);
    expect(valueOf(scraped, 'db_pools_budget_connections')).toBe(100);
    expect(valueOf(scraped, 'db_pools_reserved_connections')).toBe(10);
    // No dedicated database registered: nothing to size down.
    expect(valueOf(scraped, 'db_pools_per_database_max_connections')).toBe(5);
    expect(valueOf(scraped, 'db_pools_connections', { database: 'shared' })).toBe(valueOf(scraped, 'db_pool_connections'));
    expect(scraped.types.get('db_pools_evictions_total')).toBe('counter');
    expect(valueOf(scraped, 'db_pools_evictions_total')).toBe(0);
    expect(valueOf(scraped, 'db_pools_idle_closes_total')).toBe(0);
    expect(valueOf(scraped, 'db_pools_opened_total')).toBe(0);
    expect(valueOf(scraped, 'db_pools_callers_waiting')).toBe(0);
    // The document list is cached: the first read misses, the next two hit.
    expect(valueOf(scraped, 'cache_misses_total', { driver: 'memory' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(scraped, 'cache_hits_total', { driver: 'memory' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(scraped, 'cache_errors_total', { driver: 'memory' })).toBe(0);
    expect(valueOf(scraped, 'cache_serving', { driver: 'memory' })).toBe(1);
    expect(valueOf(scraped, 'storage_errors_total', { driver: 'local', operation: 'put', kind: 'unavailable' })).toBe(0);
  });

  it('is refused without the platform admin key (positive control: with it, 200)', async () => {
    const none = await t.request('GET', '/metrics');
    expect(none.status).toBe(401);
    expect(JSON.stringify(none.body)).not.toContain('http_server_requests_total');
    // A tenant owner's token is not the admin key.
    expect((await t.request('GET', '/metrics', { auth: t.tokenFor(tenant.slug) })).status).toBe(401);
    const admin = await t.request<string>('GET', '/metrics', { admin: true });
    expect(admin.status).toBe(200);
    expect(admin.body).toContain('http_server_requests_total');
  });
});

describe('GET /metrics: the tenant label cap', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ METRICS_TENANT_LABEL_LIMIT: '1' });
  });
  afterAll(() => t?.close());

  it('labels the first tenant by id and counts the second under other', async () => {
    const first = await t.createTenant('metrics-cap-a');
    const second = await t.createTenant('metrics-cap-b');
    expect((await t.request('GET', '/documents', { tenant: first.slug })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await t.request('GET', '/documents', { tenant: second.slug })).status).toBe(200);
    expect((await t.request('GET', `/documents/${UNKNOWN_DOCUMENT}`, { tenant: second.slug })).status).toBe(404);

    const response = await t.request<string>('GET', '/metrics', { admin: true });
    expect(response.status).toBe(200);
    const scraped = parsePrometheusText(response.body);
    // Each: its login + its own requests.
    expect(valueOf(scraped, 'tenant_http_requests_total', { tenant: first.id })).toBe(2);
    expect(valueOf(scraped, 'tenant_http_requests_total', { tenant: 'other' })).toBe(4);
    expect(valueOf(scraped, 'tenant_http_request_errors_total', { tenant: 'other', status_class: '4xx' })).toBe(1);
    expect(valueOf(scraped, 'tenant_http_requests_total', { tenant: second.id })).toBeUndefined();
    expect(response.body).not.toContain(second.id);
  });
});
