import { INestApplication } from '@nestjs/common';
import { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.factory';
import { createTestDatabase, TestDatabase } from './test-database';
import { TEST_ADMIN_KEY, TEST_BASE_DOMAIN } from './test-env';

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
  rawBody?: string;
  headers?: Record<string, string>;
  admin?: boolean;
  /** Send to another instance (same database) instead of this app. */
  baseUrl?: string;
}

export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  db: TestDatabase;
  env: Record<string, string>;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  createTenant(slug: string, extra?: Record<string, unknown>): Promise<{ id: string; slug: string }>;
  close(): Promise<void>;
}

/** The real application on a fresh database, listening on a random port. */
export async function startTestApp(envOverrides: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DATABASE_URL: db.appUrl,
    DATABASE_MIGRATION_URL: db.ownerUrl,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    TENANT_BASE_DOMAIN: TEST_BASE_DOMAIN,
    TENANT_CACHE_TTL_MS: '1000',
    DB_POOL_SIZE: '10',
    ...envOverrides,
  };
  const app = await createApp(env);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  const request = async <T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.tenant !== undefined) headers['x-tenant-id'] = options.tenant;
    if (options.host !== undefined) headers.host = options.host;
    if (options.admin) headers.authorization = `Bearer ${TEST_ADMIN_KEY}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const response = await fetchWithHost((options.baseUrl ?? baseUrl) + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* keep text */
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  };

  return {
    app,
    baseUrl,
    db,
    env,
    request,
    async createTenant(slug, extra = {}) {
      const response = await request('POST', '/tenants', { admin: true, body: { slug, name: `Tenant ${slug}`, ...extra } });
      if (response.status !== 201) throw new Error(`createTenant(${slug}) -> ${response.status} ${JSON.stringify(response.body)}`);
      return response.body;
    },
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

/**
 * fetch() refuses to set Host, so requests that need one (subdomain tenants)
 * go through node:http instead.
 */
async function fetchWithHost(url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<Response> {
  if (!init.headers.host) return fetch(url, init);
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
