import { INestApplication } from '@nestjs/common';
import { AddressInfo } from 'node:net';
import { createApp, CreateAppOptions } from '../../src/app.factory';
import { throughPgBouncer } from './pgbouncer';
import { createTestDatabase, TestDatabase } from './test-database';
import { TEST_ADMIN_KEY, TEST_BASE_DOMAIN, TEST_JWT_SECRET, TEST_OWNER_PASSWORD } from './test-env';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  /** Sent as x-tenant-id. */
  tenant?: string;
  /** Sent as Host (e.g. "acme.example.test"). */
  host?: string;
  body?: unknown;
  /** Sent as is (uploads): bytes, or a stream (sent chunked, without Content-Length). */
  rawBody?: string | Uint8Array | ReadableStream<Uint8Array>;
  /** 'buffer': the response body as raw bytes (downloads) instead of parsed JSON/text. */
  responseType?: 'json' | 'buffer';
  headers?: Record<string, string>;
  admin?: boolean;
  /** Send to another instance (same database) instead of this app. */
  baseUrl?: string;
  /**
   * Tenant routes need a credential. By default the owner token that createTenant()
   * obtained for the tenant named by `tenant` (or the `host` subdomain) is sent.
   * `false`: send none; a string: send it as the bearer (a JWT or an API key).
   * An explicit `authorization` in `headers`, or `admin`, also replaces it.
   */
  auth?: false | string;
}

export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  db: TestDatabase;
  env: Record<string, string>;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  /**
   * POST /tenants as platform admin. Unless `extra.owner` says otherwise, also makes
   * an owner (owner@<slug>.test / TEST_OWNER_PASSWORD, a NEW account: the API creates
   * an account only for an email that has none), signs in and keeps the token,
   * so request(..., { tenant }) is authenticated as that owner. Returns the tenant
   * as GET /tenants shows it (without the `owner` part of the response).
   */
  createTenant(slug: string, extra?: Record<string, unknown>): Promise<{ id: string; slug: string }>;
  /** POST /auth/login for the tenant (id or slug); the response as is. */
  login(tenant: string, email: string, password: string): Promise<ApiResponse>;
  /** The token request() sends by default for a tenant (id or slug). */
  tokenFor(tenant: string): string | undefined;
  setToken(tenant: { id: string; slug: string }, token: string | undefined): void;
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The tenant slug in a test Host header (`acme.example.test[:port]`), as the API parses it. */
function slugFromHost(host: string | undefined): string | undefined {
  const name = host?.trim().toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  const suffix = `.${TEST_BASE_DOMAIN}`;
  if (!name?.endsWith(suffix)) return undefined;
  const label = name.slice(0, -suffix.length);
  return label && !label.includes('.') ? label : undefined;
}

export interface StartTestAppOptions {
  /** Extra (test-only) modules mounted beside the application's own; a function gets the fresh database first. */
  imports?: CreateAppOptions['imports'] | ((db: TestDatabase) => CreateAppOptions['imports']);
  /** Captures the app's log lines (see test/logging). */
  logDestination?: CreateAppOptions['logDestination'];
  /** Env overrides that need the fresh database (e.g. DATABASE_URL through a TCP proxy, test/health); applied last. */
  envFor?: (db: TestDatabase) => Record<string, string>;
}

/**
 * A second instance of the application on t's database with t's environment (its
 * Redis too, when set), listening on a random port: for what one instance must see
 * of another's changes. The caller closes `app`.
 */
export async function startOtherInstance(t: TestApp): Promise<{ app: INestApplication; baseUrl: string }> {
  const app = await createApp(t.env);
  await app.listen(0, '127.0.0.1');
  return { app, baseUrl: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` };
}

/** The real application on a fresh database, listening on a random port. */
export async function startTestApp(envOverrides: Record<string, string> = {}, options: StartTestAppOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DATABASE_URL: db.appUrl,
    DATABASE_MIGRATION_URL: db.ownerUrl,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    JWT_SECRET: TEST_JWT_SECRET,
    TENANT_BASE_DOMAIN: TEST_BASE_DOMAIN,
    TENANT_CACHE_TTL_MS: '1000',
    DB_POOL_SIZE: '10',
    // No job worker unless a test asks (test/jobs): every other file's app would otherwise poll the queue for nothing.
    JOBS_WORKER: 'off',
    // In the pgbouncer project db.appUrl is a transaction-mode PgBouncer: the app must keep no session state there.
    ...(throughPgBouncer() ? { DB_POOLER: 'transaction' } : {}),
    ...envOverrides,
    ...options.envFor?.(db),
  };
  const imports = typeof options.imports === 'function' ? options.imports(db) : options.imports;
  const app = await createApp(env, { imports, logDestination: options.logDestination });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  // Owner tokens by tenant id (lower-case) and slug.
  const tokens = new Map<string, string>();
  const tokenFor = (tenant: string) => tokens.get(UUID.test(tenant) ? tenant.toLowerCase() : tenant);

  const request = async <T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.tenant !== undefined) headers['x-tenant-id'] = options.tenant;
    if (options.host !== undefined) headers.host = options.host;
    if (options.admin) headers.authorization = `Bearer ${TEST_ADMIN_KEY}`;
    const explicitAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
    if (typeof options.auth === 'string') headers.authorization = `Bearer ${options.auth}`;
    else if (options.auth === undefined && !explicitAuthorization) {
      const named = options.tenant ?? slugFromHost(options.host);
      const token = named === undefined ? undefined : tokenFor(named);
      if (token) headers.authorization = `Bearer ${token}`;
    }
    let body: RequestBody | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const response = await fetchWithHost((options.baseUrl ?? baseUrl) + path, { method, headers, body });
    if (options.responseType === 'buffer') return { status: response.status, body: Buffer.from(await response.arrayBuffer()) as T, headers: response.headers };
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* keep text */
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  };

  const login = (tenant: string, email: string, password: string) =>
    request('POST', '/auth/login', { tenant, auth: false, body: { email, password } });

  return {
    app,
    baseUrl,
    db,
    env,
    request,
    login,
    tokenFor,
    setToken(tenant, token) {
      for (const key of [tenant.id.toLowerCase(), tenant.slug]) {
        if (token === undefined) tokens.delete(key);
        else tokens.set(key, token);
      }
    },
    async createTenant(slug, extra = {}) {
      const owner = ('owner' in extra ? extra.owner : { email: `owner@${slug}.test`, password: TEST_OWNER_PASSWORD }) as
        | { email: string; password?: string }
        | undefined;
      // Enterprise unless a test names a plan: every feature, no limit, so tests about something else never meet a plan.
      const response = await request('POST', '/tenants', { admin: true, body: { slug, name: `Tenant ${slug}`, plan: 'enterprise', ...extra, owner } });
      if (response.status !== 201) throw new Error(`createTenant(${slug}) -> ${response.status} ${JSON.stringify(response.body)}`);
      const { owner: created, ...tenant } = response.body;
      if (owner?.password) {
        // An email that already has an account is never linked: the API answers with an owner invitation instead.
        if (!created?.member) throw new Error(`createTenant(${slug}): ${owner.email} already has an account, got an invitation, not an owner`);
        const session = await login(tenant.id, owner.email, owner.password);
        if (session.status !== 200) throw new Error(`login as the owner of ${slug} -> ${session.status} ${JSON.stringify(session.body)}`);
        for (const key of [tenant.id.toLowerCase(), tenant.slug]) tokens.set(key, session.body.accessToken);
      }
      return tenant;
    },
    async close() {
      // A keep-alive socket of the test's own fetch client can keep server.close() waiting; after 10 s
      // say so and cut the sockets instead of letting the hook time out (shutdown draining is the app's
      // concern, tested where it is built, not here).
      const server = app.getHttpServer() as import('node:http').Server;
      const cut = setTimeout(() => {
        console.warn('TestApp.close: the server still had open connections after 10 s; closing them');
        server.closeAllConnections();
      }, 10_000);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
      await db.drop();
    },
  };
}

/**
 * fetch() refuses to set Host, so requests that need one (subdomain tenants)
 * go through node:http instead.
 */
type RequestBody = string | Uint8Array | ReadableStream<Uint8Array>;

async function fetchWithHost(url: string, init: { method: string; headers: Record<string, string>; body?: RequestBody }): Promise<Response> {
  // A stream body needs duplex: 'half' (fetch then sends it chunked).
  if (!init.headers.host) return fetch(url, init.body instanceof ReadableStream ? { ...init, duplex: 'half' } as RequestInit : (init as RequestInit));
  if (init.body instanceof ReadableStream) throw new Error('stream bodies are not supported together with a Host header');
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method, headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers }));
      });
    });
    req.on('error', reject);
    if (init.body) req.write(init.body);
    req.end();
  });
}
