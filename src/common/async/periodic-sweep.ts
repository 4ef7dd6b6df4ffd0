/**
 * A background sweep of a worker instance (given-up jobs, expired exports, deletions whose run
 * died): run every `intervalMs` once started, at most one at a time in this process (a tick, or a
 * caller of runNow(), while one runs joins it). Its timer never keeps the process alive; stop()
 * ends the ticks and waits for a sweep in flight, so shutdown does not close pools under it.
 */
export class PeriodicSweep<T> {
  private timer?: NodeJS.Timeout;
  private running?: Promise<T>;

  constructor(
    private readonly sweep: () => Promise<T>,
    /** What a failed tick does with its error (a runNow() caller gets the rejection itself). */
    private readonly onTickError: (error: unknown) => void,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.runNow().catch(this.onTickError), intervalMs);
    this.timer.unref();
  }

  /** One sweep now, or the one already running. */
  runNow(): Promise<T> {
    this.running ??= this.sweep().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}

/** Whether `work` settled within `ms` (false: it still runs; nothing is cancelled). */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    const settled = work.then(
      () => true,
      () => true,
    );
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
