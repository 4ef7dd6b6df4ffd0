import { PeriodicSweep, settledWithin } from './periodic-sweep';

describe(PeriodicSweep.name, () => {
  it('runs one sweep at a time: a second caller joins the one running (positive control: a later call runs again)', async () => {
    let runs = 0;
    let release!: () => void;
    const sweep = new PeriodicSweep(
      () =>
        new Promise<number>((resolve) => {
          release = () => resolve(++runs);
        }),
      () => undefined,
    );
    const first = sweep.runNow();
    const joined = sweep.runNow();
    expect(joined).toBe(first);
    release();
    expect(await first).toBe(1);
    const again = sweep.runNow();
    expect(again).not.toBe(first);
    release();
    expect(await again).toBe(2);
  });

  it('stop() ends the ticks and waits for the sweep in flight; a failed tick goes to onTickError', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const sweep = new PeriodicSweep(async () => {
      calls++;
      throw new Error('down');
    }, (error) => errors.push(error));
    sweep.start(10);
    await new Promise((resolve) => setTimeout(resolve, 55));
    await sweep.stop();
    const seen = calls;
    expect(seen).toBeGreaterThan(0);
    expect(errors).toHaveLength(seen);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(calls).toBe(seen);
  });
});

describe(settledWithin.name, () => {
  it('is true for work that settles (resolved or rejected) in time, false for work still running', async () => {
    expect(await settledWithin(Promise.resolve(1), 50)).toBe(true);
    expect(await settledWithin(Promise.reject(new Error('x')), 50)).toBe(true);
    expect(await settledWithin(new Promise(() => undefined), 20)).toBe(false);
  });
});
