import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './embedded-postgres';

/**
 * A throwaway PgBouncer in transaction mode in front of a PostgreSQL, for the
 * test suite and the benchmarks (never the API itself: in production the
 * pooler is the platform's). See README "Behind PgBouncer".
 */

export interface PgBouncerOptions {
  /** Any URL of the PostgreSQL to pool; only its host and port are used (every database is pooled: `*`). */
  postgresUrl: string;
  /** Users that may connect, with their PostgreSQL passwords (PgBouncer answers the server's challenge with them). */
  users: Array<{ name: string; password: string }>;
  /** Server connections per database and user. */
  poolSize: number;
  /** Names the temp dir (`tenancy-<label>-pgbouncer-*`). */
  label: string;
}

export interface StartedPgBouncer {
  port: number;
  /** The shell that holds PgBouncer (PgBouncer is its child), for CPU accounting. */
  watcherPid: number;
  /** The admin console (database "pgbouncer") as a stats user: SHOW POOLS, SHOW SERVERS, SHOW CONFIG. */
  adminUrl: string;
  stop(): Promise<void>;
}

const STATS_USER = 'pgbouncer_stats';

/** PgBouncer from PATH, or where Debian's package puts it. */
export function findPgBouncer(): string | undefined {
  return ['pgbouncer', '/usr/sbin/pgbouncer'].find((candidate) => spawnSync(candidate, ['--version']).status === 0);
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<StartedPgBouncer> {
  const binary = findPgBouncer();
  if (!binary) throw new Error('PgBouncer not found on PATH or in /usr/sbin: install it (e.g. apt-get install pgbouncer)');
  const dir = mkdtempSync(path.join(os.tmpdir(), `tenancy-${options.label}-pgbouncer-`));
  const port = await freePort();
  const statsPassword = randomBytes(12).toString('hex');
  const server = new URL(options.postgresUrl);
  const quoted = (value: string) => `"${value.replace(/"/g, '""')}"`;
  writeFileSync(
    path.join(dir, 'userlist.txt'),
    // Plain-text passwords: PgBouncer answers the server's password, md5 or SCRAM challenge with them.
    [...options.users, { name: STATS_USER, password: statsPassword }].map(({ name, password }) => `${quoted(name)} ${quoted(password)}\n`).join(''),
    { mode: 0o600 },
  );
  // No ignore_startup_parameters: in pooler mode the app sends none it would refuse (pg's
  // application_name is one it tracks). Transaction mode runs no reset query between clients,
  // so a setting left on a server connection would reach the next client: the leak tests need that.
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
default_pool_size = ${options.poolSize}
max_client_conn = 500
auth_type = scram-sha-256
auth_file = ${path.join(dir, 'userlist.txt')}
stats_users = ${STATS_USER}
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
  // ends (a killed parent never runs its cleanup), the pipe closes, and PgBouncer and its folder go.
  // Its own process group: a Ctrl-C meant for the parent must not kill the shell before it can clean up.
  const watcher = spawn('sh', ['-c', 'dir=$1; shift; "$@" & bouncer=$!; read -r _; kill "$bouncer" 2>/dev/null; wait "$bouncer"; rm -rf "$dir"', 'pgbouncer-watch', dir, binary, ...args], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  const stop = () => stopWatcher(watcher);

  const adminUrl = `postgres://${STATS_USER}:${statsPassword}@127.0.0.1:${port}/pgbouncer`;
  for (let attempt = 0; ; attempt++) {
    try {
      await assertTransactionMode(adminUrl, 'the PgBouncer just started');
      return { port, adminUrl, stop, watcherPid: watcher.pid! };
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

/** The admin console answers, and the pooler runs in transaction mode. */
export async function assertTransactionMode(adminUrl: string, what: string, help = ''): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ key: string; value: string }>('show config');
    const mode = rows.find((row) => row.key === 'pool_mode')?.value;
    if (mode !== 'transaction') throw new Error(`${what} runs pool_mode=${mode}; transaction mode is needed${help ? `: ${help}` : ''}`);
  } finally {
    await client.end();
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
