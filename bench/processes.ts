import { ChildProcess, fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type { LoadRequest, LoadResult, LoadStop } from './load';
import type { ServerMessage } from './server';

/** Child processes of a benchmark run: API servers and load generators. */

const DIST = __dirname;

export interface ApiServer {
  name: string;
  url: string;
  pid: number;
  /** Last lines the server printed, for error reports. */
  output(): string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** server.js (the API), or one of the reference servers (bare-server.js, hello-fastify.js, hello-nest.js). */
  script: string;
  /** Node flags of the server process (e.g. --cpu-prof). */
  execArgv: string[];
  startTimeoutMs?: number;
  /** How long stop() waits for a clean exit before SIGKILL (a profiled process writes its profile on exit). */
  stopTimeoutMs?: number;
}

export async function startApiServer(name: string, env: Record<string, string>, options: ServerOptions): Promise<ApiServer> {
  const { script, execArgv, startTimeoutMs: timeoutMs = 60_000, stopTimeoutMs } = options;
  const child = fork(path.join(DIST, script), [], { env, execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no answer within ${timeoutMs} ms\n${lines.join('\n')}`)), timeoutMs);
    child.once('message', (message: ServerMessage) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} while starting:\n${lines.join('\n')}`));
    });
  });
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    output: () => lines.join('\n'),
    stop: () => stopChild(child, stopTimeoutMs),
  };
}

function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.send({ type: 'stop' });
    else child.kill('SIGTERM');
  });
}

/** One measured (or warm-up) load run, from a fresh load-generator process. */
/**
 * What every bench's API process (server.js) runs with: production mode, a throwaway DATA_DIR, tokens
 * that outlive the run, the bench's admin key and JWT secret (one secret: processes of one bench accept
 * each other's tokens). Each bench adds its database and settings.
 */
export function benchApiEnv(input: { tmp: string; adminKey: string; jwtSecret: string; logLevel?: 'warn' | 'log' }): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? input.tmp,
    NODE_ENV: 'production',
    LOG_LEVEL: input.logLevel ?? 'warn',
    ADMIN_API_KEY: input.adminKey,
    JWT_SECRET: input.jwtSecret,
    ACCESS_TOKEN_TTL_SECONDS: '86400',
    DATA_DIR: input.tmp,
  };
}

/**
 * `nice`: the generator's scheduling priority (os.setPriority; 19 the lowest). A generator that
 * stands for a client on another machine (bench:noisy's flood) gets 19, so its own CPU on these
 * shared cores does not come before the server's work.
 */
export function runLoad(request: Omit<LoadRequest, 'type'>, options: { nice?: number } = {}): Promise<LoadResult> {
  return startLoad(request, options).result;
}

export interface RunningLoad {
  result: Promise<LoadResult>;
  /** Ends the run before its durationSeconds (the result covers the time it ran); no effect once it ended. */
  stop(): void;
}

/** A load run that can be stopped early (bench:move: until a move completes). */
export function startLoad(request: Omit<LoadRequest, 'type'>, options: { nice?: number } = {}): RunningLoad {
  const child = fork(path.join(DIST, 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (options.nice !== undefined && child.pid !== undefined) os.setPriority(child.pid, options.nice);
  const result = new Promise<LoadResult>((resolve, reject) => {
    let outcome: LoadResult | undefined;
    child.once('message', (message: LoadResult) => (outcome = message));
    child.once('exit', (code) => (outcome ? resolve(outcome) : reject(new Error(`load generator exited with ${code} and no result`))));
    child.send({ type: 'run', ...request } satisfies LoadRequest);
  });
  return {
    result,
    stop: () => {
      if (child.connected) child.send({ type: 'stop' } satisfies LoadStop);
    },
  };
}

/** Resident set size of a process, in MB (Linux /proc). */
export function rssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every intervalMs until stopped; returns max and mean. */
export function sampleRss(pid: number, intervalMs = 250): { stop(): { maxMb: number; meanMb: number } } {
  const samples: number[] = [];
  const take = () => {
    const value = rssMb(pid);
    if (value !== undefined) samples.push(value);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { maxMb: Math.max(...samples), meanMb: samples.reduce((a, b) => a + b, 0) / samples.length };
    },
  };
}

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used, in ms; undefined when it is gone or not visible. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Pids whose parent is `parent` (Linux /proc scan). */
export function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * CPU used by a set of processes between start and stop(). The set is
 * re-read at stop: a process that started during the run (a pool connection
 * opened by it) counts whole; one that ended during it is not counted (under
 * steady load pool connections stay open).
 */
export function cpuMeter(pids: () => number[]): { stop(): number } {
  const before = new Map<number, number>();
  for (const pid of pids()) {
    const value = cpuMs(pid);
    if (value !== undefined) before.set(pid, value);
  }
  return {
    stop() {
      let total = 0;
      for (const pid of pids()) {
        const value = cpuMs(pid);
        if (value !== undefined) total += value - (before.get(pid) ?? 0);
      }
      return total;
    },
  };
}
