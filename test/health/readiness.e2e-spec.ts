import { ShutdownGate } from '../../src/health/shutdown-gate';
import { startS3Server, TestS3Server } from '../helpers/s3-server';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';
import { startTestApp, TestApp } from '../helpers/test-app';
import { TestDatabase } from '../helpers/test-database';
import { throughProxy, until } from './health-helpers';

/**
 * Readiness against real servers: PostgreSQL (as app_user, through a TCP proxy
 * the test can cut), Redis (through another proxy) and S3 (s3rver, stopped and
 * restarted). PostgreSQL down is 503; Redis or S3 down is 200 "degraded".
 */
describe('GET /health/live and /health/ready', () => {
  let t: TestApp;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let s3: TestS3Server;
  const lines: Array<{ level: number; msg: string; req?: { route?: string } }> = [];

  beforeAll(async () => {
    const server = new URL(process.env.TEST_PG_SUPERUSER_URL!);
    pgProxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    const redis = new URL(process.env.TEST_REDIS_URL!);
    redisProxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    s3 = await startS3Server('health-ready');
    t = await startTestApp(
      { REDIS_URL: redisProxy.url('redis'), REDIS_COMMAND_TIMEOUT_MS: '200', REDIS_CONNECT_TIMEOUT_MS: '1000', ...s3.env, S3_REQUEST_TIMEOUT_MS: '1000', LOG_LEVEL: 'log' },
      {
        // Only the runtime role's connections go through the proxy (migrations and test checks do not).
        envFor: (db: TestDatabase) => ({ DATABASE_URL: throughProxy(pgProxy, db.appUrl) }),
        logDestination: { write: (line: string) => void lines.push(JSON.parse(line)) },
      },
    );
  });

  afterAll(async () => {
    await t?.close();
    await pgProxy?.close();
    await redisProxy?.close();
    await s3?.close();
  });

  const ready = () => t.request('GET', '/health/ready');

  it('answers ready with every dependency up, in the terminus shape', async () => {
    const response = await ready();
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      status: 'ok',
      info: expect.any(Object),
      error: {},
      details: {
        database: { status: 'up' },
        migrations: { status: 'up', state: 'current', applied: expect.any(Number), shipped: expect.any(Number) },
        redis: { status: 'up' },
        s3: { status: 'up' },
        // Which semantic search engine serves (informational): no pgvector on the test servers.
        vectors: { status: 'up', engine: 'exact-scan', dimension: 384, reason: 'the pgvector extension is not installed' },
      },
    });
    expect(response.body.details.migrations.applied).toBe(response.body.details.migrations.shipped);
    expect((await t.request('GET', '/health/live')).body).toEqual({ status: 'ok', info: {}, error: {}, details: {} });
    // Existing users' routes are unchanged.
    expect((await t.request('GET', '/health')).body).toEqual({ status: 'ok' });
    expect((await t.request('GET', '/health/details', { admin: true })).status).toBe(200);
  });

  it('is 503 while PostgreSQL is unreachable, live stays 200, and ready again once it is back', async () => {
    const before = lines.length;
    await pgProxy.cut();
    try {
      const down = await ready();
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('1');
      expect(down.body.status).toBe('error');
      expect(down.body.error.database).toEqual({ status: 'down', message: expect.any(String) });
      expect(down.body.error.migrations.status).toBe('down');
      // Liveness asks no dependency: an outage must not restart healthy processes.
      expect((await t.request('GET', '/health/live')).status).toBe(200);
      // One clear warn line for the failed probe; the probes' own access lines stay at debug.
      const warned = lines.slice(before).filter((l) => l.level === 40 && l.msg.startsWith('readiness: not ready'));
      expect(warned).toHaveLength(1);
      expect(warned[0].msg).toMatch(/database: /);
    } finally {
      await pgProxy.restore();
    }
    await until(ready, (r) => r.status === 200, 'ready after PostgreSQL came back');
    // Probe access lines are at debug (not written at LOG_LEVEL=log); positive control: other routes' are at info.
    const probes = new Set(['/health', '/health/live', '/health/ready']);
    expect(lines.some((l) => l.msg === 'request completed' && probes.has(l.req?.route ?? ''))).toBe(false);
    expect(lines.some((l) => l.level === 30 && l.msg === 'request completed' && l.req?.route === '/health/details')).toBe(true);
  });

  it('answers 503 quickly, not a hung probe, when PostgreSQL stops answering (stalled connections)', async () => {
    // Positive control first: ready.
    expect((await ready()).status).toBe(200);
    pgProxy.stall();
    try {
      // The probe's own bound (800 ms) answers; jest's timeout would be the failure otherwise.
      const response = await ready();
      expect(response.status).toBe(503);
      expect(response.body.error.database.message).toMatch(/no answer within/);
    } finally {
      await pgProxy.restore();
    }
    await until(ready, (r) => r.status === 200, 'ready after the stall');
  });

  it('stays ready (200, "degraded") while Redis is down, and ok once it is back', async () => {
    await redisProxy.cut();
    try {
      const response = await until(ready, (r) => r.body?.status === 'degraded', 'degraded while Redis is down');
      expect(response.status).toBe(200);
      expect(response.body.details.redis).toEqual({ status: 'degraded', message: expect.stringMatching(/served from PostgreSQL/) });
      expect(response.body.details.database.status).toBe('up');
    } finally {
      await redisProxy.restore();
    }
    await until(ready, (r) => r.status === 200 && r.body.status === 'ok', 'ok after Redis came back');
  });

  it('stays ready (200, "degraded") while S3 is down, and ok once it is back', async () => {
    await s3.stop();
    try {
      const response = await until(ready, (r) => r.body?.status === 'degraded', 'degraded while S3 is down');
      expect(response.status).toBe(200);
      expect(response.body.details.s3).toEqual({ status: 'degraded', message: expect.stringMatching(/answer 503/) });
    } finally {
      await s3.restart();
    }
    await until(ready, (r) => r.status === 200 && r.body.status === 'ok', 'ok after S3 came back');
  });
});

describe('GET /health/ready once shutdown has begun', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 503 "shutting_down" at once (what main.ts flips on SIGTERM), while live stays 200', async () => {
    expect((await t.request('GET', '/health/ready')).status).toBe(200);
    t.app.get(ShutdownGate).begin();
    const response = await t.request('GET', '/health/ready');
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ status: 'shutting_down', info: {}, error: {}, details: {} });
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.headers.get('connection')).toBe('close');
    expect((await t.request('GET', '/health/live')).status).toBe(200);
  });
});

describe('GET /health/ready on a database behind the shipped migrations', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is 503 with migrations "behind" when the newest migration is not recorded, 200 when it is', async () => {
    // Positive control.
    expect((await t.request('GET', '/health/ready')).status).toBe(200);
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: t.db.superuserUrl });
    await client.connect();
    try {
      await client.query('begin');
      const { rows } = await client.query('select id, hash, created_at from drizzle.__drizzle_migrations order by created_at desc limit 1');
      await client.query('delete from drizzle.__drizzle_migrations where id = $1', [rows[0].id]);
      await client.query('commit');
      const behind = await t.request('GET', '/health/ready');
      expect(behind.status).toBe(503);
      expect(behind.body.error.migrations).toMatchObject({ status: 'down', message: expect.stringMatching(/^behind/) });
      expect(behind.body.details.database.status).toBe('up');
      await client.query('insert into drizzle.__drizzle_migrations (id, hash, created_at) values ($1, $2, $3)', [rows[0].id, rows[0].hash, rows[0].created_at]);
      expect((await t.request('GET', '/health/ready')).status).toBe(200);
    } finally {
      await client.end();
    }
  });
});
