import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
/** Held while one test file builds: `nest build` deletes dist/ first, so two builds at once (or a build under a running server) break each other. */
const LOCK = path.join(ROOT, 'dist.test-build.lock');
const LOCK_WAIT_MS = 240_000;
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 300_000;

function newestMtime(target: string, keep: (file: string) => boolean = () => true): number {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return keep(target) ? stat.mtimeMs : 0;
  return Math.max(0, ...readdirSync(target).filter((name) => name !== 'dist' && name !== 'results').map((name) => newestMtime(path.join(target, name), keep)));
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function withLock(fn: () => void): void {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (Date.now() - mtime(LOCK) > STALE_LOCK_MS) rmdirSync(LOCK, { recursive: true } as never);
      else if (Date.now() > deadline) throw new Error(`test build: ${LOCK} held for over ${LOCK_WAIT_MS / 1000} s; remove it if no test run is building`);
      else sleepSync(200);
    }
  }
  try {
    fn();
  } finally {
    rmdirSync(LOCK);
  }
}

/**
 * The built app (dist/) and, with `bench`, the built bench and seed commands
 * (bench/dist/), rebuilt only when older than their sources. Test files that
 * spawn the built server or CLI call this; it builds once per change, under a
 * lock, so parallel test files never build over each other.
 */
export function ensureBuilt(options: { bench?: boolean } = {}): void {
  withLock(() => {
    const appBuilt = mtime(path.join(ROOT, 'dist', 'main.js'));
    if (appBuilt < newestMtime(path.join(ROOT, 'src'), (file) => !file.endsWith('.spec.ts'))) {
      execFileSync(path.join(ROOT, 'node_modules', '.bin', 'nest'), ['build'], { cwd: ROOT, stdio: 'pipe' });
    }
    if (options.bench) {
      const benchBuilt = mtime(path.join(ROOT, 'bench', 'dist', 'run.js'));
      const sources = Math.max(newestMtime(path.join(ROOT, 'bench'), (file) => file.endsWith('.ts')), mtime(path.join(ROOT, 'dist', 'main.js')));
      if (benchBuilt < sources) execFileSync(process.execPath, ['bench/build.js'], { cwd: ROOT, stdio: 'pipe' });
    }
  });
}
