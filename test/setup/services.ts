import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { withDatabase } from '../../src/database/provisioning';
import { APP_ROLE } from '../../src/database/schema/roles';
import { freePort, startThrowawayPostgres } from '../../src/runtime/embedded-postgres';
import { TEST_ROLE_PASSWORDS } from '../helpers/test-env';

/** Shared between global setup (which starts things) and teardown (which stops them). */
export const state: {
  stopPostgres?: () => Promise<void>;
  redisProcess?: ReturnType<typeof spawn>;
  stopPgBouncer?: () => Promise<void>;
  cleanup: Array<() => Promise<void> | void>;
} = { cleanup: [] };

/** An embedded PostgreSQL in a temp dir, tuned for throwaway data; returns a superuser URL. */
export async function startEmbeddedPostgres(): Promise<string> {
  // fsync off: test data is thrown away, and it makes CREATE DATABASE ... TEMPLATE fast.
  const postgres = await startThrowawayPostgres('test', ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']);
  state.stopPostgres = postgres.stop;
  return postgres.superuserUrl;
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

/** The server pool per database and user: far fewer server connections than the app's pool opens. */
const PGBOUNCER_POOL_SIZE = 3;
const PGBOUNCER_STATS_USER = 'pgbouncer_stats';
const PGBOUNCER_HELP =
  'set TEST_PGBOUNCER_URL to a running transaction-mode PgBouncer in front of the tests\' PostgreSQL (postgres://user:password@host:port, a user in its stats_users)';

/**
 * TEST_PGBOUNCER_URL, else PgBouncer from PATH or /usr/sbin (where Debian's package puts it) on a
 * free port, in transaction mode, in front of the suite's PostgreSQL. Returns a URL of its admin
 * console (database "pgbouncer") as a user that may run SHOW; the tests take host and port from it
 * for the app role. Never a PgBouncer that happens to listen on 6432: its pool mode and
 * users are not the suite's to choose.
 */
export async function provisionPgBouncer(superuserUrl: string): Promise<string> {
  const configured = process.env.TEST_PGBOUNCER_URL;
  if (configured) {
    await checkPoolMode(withDatabase(configured, 'pgbouncer'), `TEST_PGBOUNCER_URL=${configured}`);
    return withDatabase(configured, 'pgbouncer');
  }
  const binary = ['pgbouncer', '/usr/sbin/pgbouncer'].find((candidate) => spawnSync(candidate, ['--version']).status === 0);
  if (!binary) throw new Error(`Tests need PgBouncer: install it (e.g. apt-get install pgbouncer), or ${PGBOUNCER_HELP}.`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'tenancy-test-pgbouncer-'));
  const port = await freePort();
  const statsPassword = randomBytes(12).toString('hex');
  const server = new URL(superuserUrl);
  const quoted = (value: string) => `"${value.replace(/"/g, '""')}"`;
  writeFileSync(
    path.join(dir, 'userlist.txt'),
    // Plain-text passwords: PgBouncer answers the server's password, md5 or SCRAM challenge with them.
    [[APP_ROLE, TEST_ROLE_PASSWORDS.app], [PGBOUNCER_STATS_USER, statsPassword]].map(([user, password]) => `${quoted(user)} ${quoted(password)}\n`).join(''),
    { mode: 0o600 },
  );
  // No ignore_startup_parameters: through PgBouncer the app must send no startup parameter it
  // refuses (pg's application_name is one it tracks). Transaction mode runs no reset query between
  // clients, so a setting left on a server connection would reach the next client: the leak tests need that.
  const ini = path.join(dir, 'pgbouncer.ini');
  writeFileSync(
    ini,
    `[databases]
* = host=${server.hostname.replace(/^\[|\]$/g, '')} port=${server.port || 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
pool_mode = transaction
default_pool_size = ${PGBOUNCER_POOL_SIZE}
max_client_conn = 500
auth_type = scram-sha-256
auth_file = ${path.join(dir, 'userlist.txt')}
stats_users = ${PGBOUNCER_STATS_USER}
logfile = ${path.join(dir, 'pgbouncer.log')}
`,
  );
  const args = [ini];
  if (process.getuid?.() === 0) {
    // PgBouncer refuses to run as root; it switches to -u before opening its log file.
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout));
    for (const file of [dir, ...['userlist.txt', 'pgbouncer.ini'].map((name) => path.join(dir, name))]) chownSync(file, uid, gid);
    args.unshift('-u', 'nobody');
  }
  // The shell keeps PgBouncer as long as its stdin is open: when this process ends, however it
  // ends (a killed jest never runs teardown), the pipe closes, and PgBouncer and its folder go.
  // Its own process group: a Ctrl-C meant for jest must not kill the shell before it can clean up.
  const watcher = spawn('sh', ['-c', 'dir=$1; shift; "$@" & bouncer=$!; read -r _; kill "$bouncer" 2>/dev/null; wait "$bouncer"; rm -rf "$dir"', 'pgbouncer-watch', dir, binary, ...args], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  const stop = () => stopWatcher(watcher);
  state.stopPgBouncer = stop;

  const admin = `postgres://${PGBOUNCER_STATS_USER}:${statsPassword}@127.0.0.1:${port}/pgbouncer`;
  for (let attempt = 0; ; attempt++) {
    try {
      await checkPoolMode(admin, 'the PgBouncer the tests started');
      return admin;
    } catch (error) {
      if (attempt >= 50 || (error as { code?: string }).code !== 'ECONNREFUSED') {
        const log = lastLines(path.join(dir, 'pgbouncer.log'));
        await stop();
        throw new Error(`PgBouncer (${binary}) did not start: ${(error as Error).message}; its log: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Closing its stdin makes the shell stop PgBouncer and remove the folder. */
async function stopWatcher(watcher: ChildProcess): Promise<void> {
  if (watcher.exitCode !== null || watcher.signalCode !== null) return;
  const exited = new Promise((resolve) => watcher.once('exit', resolve));
  watcher.stdin?.end();
  await exited;
}

function lastLines(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ') || '(empty)';
  } catch {
    return '(none)';
  }
}

/** The admin console answers, and the pooler runs in transaction mode (the mode the pgbouncer project exists for). */
async function checkPoolMode(adminUrl: string, what: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ key: string; value: string }>('show config');
    const mode = rows.find((row) => row.key === 'pool_mode')?.value;
    if (mode !== 'transaction') throw new Error(`${what} runs pool_mode=${mode}; the tests need transaction mode: ${PGBOUNCER_HELP}`);
  } finally {
    await client.end();
  }
}
