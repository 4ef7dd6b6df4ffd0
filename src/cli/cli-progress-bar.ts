import { SingleBar } from 'cli-progress';

export interface Progress {
  /** `note`: shown after the counts until replaced (e.g. which databases failed so far). */
  increment(by?: number, note?: string): void;
  /** Work whose total is learnt on the way (an export's rows, then its files): the value and total as they are now. */
  update(value: number, total: number, note?: string): void;
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
    format: `${label} [{bar}] {percentage}% {value}/{total} ${unit} {duration}s {note}`,
    barCompleteChar: '#',
    barIncompleteChar: '.',
    hideCursor: true,
    clearOnComplete: false,
    noTTYOutput: false,
  });
  let shown = '';
  bar.start(total, 0, { note: shown });
  return {
    increment: (by = 1, note?: string) => bar.increment(by, { note: (shown = note ?? shown) }),
    update: (value: number, total: number, note?: string) => {
      bar.setTotal(total);
      bar.update(value, { note: (shown = note ?? shown) });
    },
    stop: () => bar.stop(),
  };
}
