import { SingleBar } from 'cli-progress';

export interface Progress {
  increment(by?: number): void;
  stop(): void;
}

/**
 * A cli-progress bar on stderr, for work that takes more than a moment
 * (several migrations, many pages of tenants). Drawn only on a terminal:
 * cli-progress writes nothing when stderr is not a TTY (noTTYOutput false),
 * so logs and pipes get no bar lines, and stdout is never touched.
 */
export function startProgress(label: string, total: number, unit: string): Progress {
  const bar = new SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% {value}/{total} ${unit} {duration}s`,
    barCompleteChar: '#',
    barIncompleteChar: '.',
    hideCursor: true,
    clearOnComplete: false,
    noTTYOutput: false,
  });
  bar.start(total, 0);
  return { increment: (by = 1) => bar.increment(by), stop: () => bar.stop() };
}
