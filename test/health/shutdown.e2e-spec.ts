import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { freePort } from '../../src/runtime/embedded-postgres';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';
import { TEST_ADMIN_KEY, TEST_BASE_DOMAIN, TEST_JWT_SECRET, TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { ensureBuilt } from '../helpers/built';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'main.js');

interface Server {
  child: ChildProcess;
  baseUrl: string;
  lines: Array<{ msg?: string; level?: number }>;
  exited: Promise<number | null>;
}

async function startServer(db: TestDatabase, adapter: 'fastify' | 'express', dataDir: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      HTTP_ADAPTER: adapter,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'log',
      DATABASE_URL: db.appUrl,
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      JWT_SECRET: TEST_JWT_SECRET,
      TENANT_BASE_DOMAIN: TEST_BASE_DOMAIN,
      SHUTDOWN_DRAIN_MS: '20000',
      // Attachments go to local disk under DATA_DIR/files.
      DATA_DIR: dataDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Server['lines'] = [];
  let buffered = '';
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const parsed = JSON.parse(line);
          lines.push(parsed);
          if (typeof parsed.msg === 'string' && parsed.msg.startsWith('listening on')) resolve();
        } catch {
          lines.push({ msg: line });
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening: ${JSON.stringify(lines.slice(-5))}`)));
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await listening;
  return { child, baseUrl: `http://127.0.0.1:${port}`, lines, exited };
}

async function json(baseUrl: string, method: string, route: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(baseUrl + route, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as any };
}

/** A tenant, its owner's token and a document to attach files to. */
async function seed(baseUrl: string, slug: string) {
  const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
  const tenant = await json(baseUrl, 'POST', '/tenants', { slug, name: slug, plan: 'pro', owner: { email: `owner@${slug}.test`, password: TEST_OWNER_PASSWORD } }, admin);
  expect(tenant.status).toBe(201);
  const login = await json(baseUrl, 'POST', '/auth/login', { email: `owner@${slug}.test`, password: TEST_OWNER_PASSWORD }, { 'x-tenant-id': slug });
  expect(login.status).toBe(200);
  const headers = { 'x-tenant-id': slug, authorization: `Bearer ${login.body.accessToken}` };
  const doc = await json(baseUrl, 'POST', '/documents', { title: 'shutdown' }, headers);
  expect(doc.status).toBe(201);
  return { headers, documentId: doc.body.id as string };
}

/** A GET on a fresh connection (no keep-alive reuse): the status, or the connection error code. */
function freshGet(baseUrl: string, route: string): Promise<number | string> {
  return new Promise((resolve) => {
    const request = http.get(baseUrl + route, { agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(['fastify', 'express'] as const)('graceful shutdown of the built server (%s)', (adapter) => {
  let db: TestDatabase;
  let server: Server | undefined;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tenancy-shutdown-'));

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase();
  });

  afterAll(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lets a slow upload in flight finish with 201, refuses new connections, then exits 0', async () => {
    server = await startServer(db, adapter, dataDir);
    const { baseUrl } = server;
    const { headers, documentId } = await seed(baseUrl, `shutdown-${adapter}`);
    // Positive control: a fresh connection is answered before the signal.
    expect(await freshGet(baseUrl, '/health/ready')).toBe(200);

    // ~2 MB in 20 chunks, one every 150 ms (about 3 s), streamed (chunked).
    const chunk = Buffer.alloc(100 * 1024, 7);
    const upload = http.request(`${baseUrl}/documents/${documentId}/attachments?filename=slow.bin`, {
      method: 'POST',
      agent: false,
      headers: { ...headers, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
    });
    const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
      upload.on('response', (response) => {
        let body = '';
        response.on('data', (data) => (body += data));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      upload.on('error', reject);
    });
    let afterSignal: number | string | undefined;
    for (let i = 0; i < 20; i++) {
      upload.write(chunk);
      await sleep(150);
      if (i === 4) server.child.kill('SIGTERM');
      if (i === 7) afterSignal = await freshGet(baseUrl, '/health/ready');
    }
    upload.end();

    const result = await answered;
    expect(result.status).toBe(201);
    expect(JSON.parse(result.body)).toMatchObject({ sizeBytes: 20 * chunk.length });
    // After SIGTERM a new connection is refused (the listening socket is closed) or answered 503.
    expect([503, 'ECONNREFUSED']).toContain(afterSignal);
    expect(await server.exited).toBe(0);

    const messages = server.lines.map((line) => line.msg ?? '');
    // The job worker (on by default) stops taking jobs at the signal, and stops before the pool closes.
    const order = ['SIGTERM: draining', 'shutdown: no new job is taken', 'drained: no request in flight', 'job worker stopped', 'closed: database pool', 'exiting with code 0'].map((prefix) =>
      messages.findIndex((msg) => msg.startsWith(prefix)),
    );
    expect(order.every((index) => index >= 0)).toBe(true);
    // Judged by when each line was logged (pino's `time`, taken at the call), not by where it landed
    // in the captured pipe output, which can interleave under load.
    const times = order.map((index) => Number((server!.lines[index] as { time?: number }).time));
    expect(times.every(Number.isFinite)).toBe(true);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });
});
