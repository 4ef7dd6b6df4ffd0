import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { ErrorCode, httpStatusFor } from '../../common/errors/error-codes';
import { DatabaseBusyError, DatabasePools, DatabasePoolsOptions, dedicatedPoolMax } from './database-pools';

/** What DatabasePools reads of a pg.Pool; end() resolves before the connections are gone, as pg-pool's does. */
class FakePool extends EventEmitter {
  readonly options: { max: number };
  totalCount = 0;
  idleCount = 0;
  waitingCount = 0;
  ended = false;

  constructor(
    readonly database: string,
    max: number,
  ) {
    super();
    this.options = { max };
  }

  async end(): Promise<void> {
    if (this.ended) throw new Error('Called end on pool more than once');
    this.ended = true;
  }

  /** A connection as pg-pool announces it; call the result to close its socket. */
  connect(): () => void {
    const client = new EventEmitter();
    this.emit('connect', client);
    return () => client.emit('end');
  }
}

const OPTIONS: DatabasePoolsOptions = { budget: 7, perDatabaseMax: 2, idleCloseMs: 60_000, waitTimeoutMs: 1_000 };

/** A gate fn can wait on, so a pool stays in use until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe(DatabasePools.name, () => {
  let shared: FakePool;
  let opened: FakePool[];
  let unknown: Set<string>;

  /** Budget 7, shared max 3: room for two dedicated pools of 2. */
  function create(options: Partial<DatabasePoolsOptions> = {}): DatabasePools {
    return new DatabasePools(
      shared as unknown as pg.Pool,
      (name, max) => {
        if (unknown.has(name)) throw new Error(`no database named "${name}"`);
        const pool = new FakePool(name, max);
        opened.push(pool);
        return pool as unknown as pg.Pool;
      },
      { ...OPTIONS, ...options },
    );
  }
  const poolOf = (name: string) => opened.filter((p) => p.database === name).at(-1)!;
  const useOnce = (sut: DatabasePools, name: string) => sut.use(name, async (pool) => (pool as unknown as FakePool).database);
  const openNames = (sut: DatabasePools) => sut.snapshot().pools.map((p) => p.database);

  beforeEach(() => {
    shared = new FakePool('shared', 3);
    opened = [];
    unknown = new Set();
  });
  afterEach(() => jest.useRealTimers());

  it('refuses a budget with no room for one dedicated pool beside the shared one (positive control: one that has)', () => {
    expect(() => create({ budget: 4 })).toThrow(/no room for a dedicated pool/);
    expect(create({ budget: 5 }).snapshot()).toMatchObject({ budget: 5, reserved: 3 });
  });

  it('serves "shared" from the shared pool, and never closes it', async () => {
    const sut = create();
    expect(await sut.use('shared', async (pool) => pool)).toBe(shared);
    await sut.close();
    expect(shared.ended).toBe(false);
    expect(opened).toEqual([]);
  });

  it('opens each database once, then evicts the least recently used idle pool when the budget is full', async () => {
    const sut = create();
    expect(await useOnce(sut, 'a')).toBe('a');
    expect(await useOnce(sut, 'b')).toBe('b');
    expect(await useOnce(sut, 'a')).toBe('a');
    expect(opened.map((p) => p.database)).toEqual(['a', 'b']);
    expect(sut.snapshot()).toMatchObject({ reserved: 7, opened: 2, evicted: 0 });

    // b was used less recently than a.
    expect(await useOnce(sut, 'c')).toBe('c');
    expect(poolOf('b').ended).toBe(true);
    expect(poolOf('a').ended).toBe(false);
    expect(openNames(sut)).toEqual(['shared', 'a', 'c']);
    expect(sut.snapshot()).toMatchObject({ reserved: 7, opened: 3, evicted: 1 });
  });

  it('keeps a closed pool\'s share reserved until its last connection has closed', async () => {
    const sut = create();
    const closeA = await sut.use('a', async (pool) => (pool as unknown as FakePool).connect());
    await useOnce(sut, 'b');
    const c = useOnce(sut, 'c');
    await flush();
    // a is evicted and its end() resolved, but its connection is still open: c waits.
    expect(poolOf('a').ended).toBe(true);
    expect(sut.snapshot()).toMatchObject({ reserved: 7, closing: 1, waitingForRoom: 1, evicted: 1 });
    expect(opened.map((p) => p.database)).toEqual(['a', 'b', 'c']);
    closeA();
    expect(await c).toBe('c');
    expect(sut.snapshot()).toMatchObject({ reserved: 7, closing: 0, waitingForRoom: 0 });
  });

  it('closes no more pools than the waiting caller needs, counting room already on its way', async () => {
    const sut = create({ budget: 9 });
    const closeA = await sut.use('a', async (pool) => (pool as unknown as FakePool).connect());
    await useOnce(sut, 'b');
    await useOnce(sut, 'c');
    const d = useOnce(sut, 'd');
    await flush();
    expect(sut.snapshot()).toMatchObject({ evicted: 1, closing: 1, waitingForRoom: 1 });
    // b, given back while d still waits, is idle again: a's closing share already covers d.
    await useOnce(sut, 'b');
    expect(sut.snapshot()).toMatchObject({ evicted: 1, closing: 1, waitingForRoom: 1 });
    closeA();
    expect(await d).toBe('d');
    expect(sut.snapshot().evicted).toBe(1);
    expect(openNames(sut)).toEqual(['shared', 'c', 'b', 'd']);
  });

  it('never closes a pool in use: callers wait in arrival order, then get DatabaseBusyError (positive control: room in time)', async () => {
    jest.useFakeTimers();
    const sut = create();
    const held = gate();
    const a = sut.use('a', () => held.wait);
    const b = sut.use('b', () => held.wait);
    await jest.advanceTimersByTimeAsync(0);

    const late = sut.use('c', async () => 'c');
    const rejected = expect(late).rejects.toBeInstanceOf(DatabaseBusyError);
    await jest.advanceTimersByTimeAsync(OPTIONS.waitTimeoutMs);
    await rejected;
    const error = (await late.catch((e: unknown) => e)) as DatabaseBusyError;
    expect(error).toMatchObject({ code: ErrorCode.DatabaseBusy, database: 'c', headers: { 'retry-after': '1' } });
    expect(httpStatusFor(ErrorCode.DatabaseBusy)).toBe(503);
    // The client is not told where the tenant lives; the log (the cause) is.
    expect(error.message).toBe('The database is busy, retry shortly');
    expect((error.cause as Error).message).toContain('database "c"');
    expect(poolOf('c').ended).toBe(true); // the pool made for it, never connected, is given back
    expect(sut.snapshot()).toMatchObject({ reserved: 7, evicted: 0, waitingForRoom: 0 });

    const order: string[] = [];
    const d = sut.use('d', async () => void order.push('d'));
    const e = sut.use('e', async () => void order.push('e'));
    await jest.advanceTimersByTimeAsync(OPTIONS.waitTimeoutMs / 2);
    expect(sut.snapshot().waitingForRoom).toBe(2);
    held.open();
    await Promise.all([a, b, d, e]);
    expect(order).toEqual(['d', 'e']);
    expect(sut.snapshot()).toMatchObject({ evicted: 2, waitingForRoom: 0 });
  });

  it('opens one pool for concurrent first uses of a name, every caller counted in use (positive control: two names, two pools)', async () => {
    const sut = create();
    const held = gate();
    const uses = Array.from({ length: 5 }, () => sut.use('a', () => held.wait));
    await flush();
    expect(opened.map((p) => p.database)).toEqual(['a']);
    expect(sut.snapshot().pools.find((p) => p.database === 'a')).toMatchObject({ inUse: 5 });
    held.open();
    await Promise.all(uses);
    expect(sut.snapshot().pools.find((p) => p.database === 'a')).toMatchObject({ inUse: 0 });
    await Promise.all([useOnce(sut, 'b'), useOnce(sut, 'b')]);
    expect(opened.map((p) => p.database)).toEqual(['a', 'b']);
    expect(sut.snapshot().opened).toBe(2);
  });

  it('lets openPool\'s error for an unknown name through, reserving and evicting nothing (positive control: a known name evicts)', async () => {
    const sut = create();
    await useOnce(sut, 'a');
    await useOnce(sut, 'b');
    unknown.add('nope');
    await expect(useOnce(sut, 'nope')).rejects.toThrow('no database named "nope"');
    expect(sut.snapshot()).toMatchObject({ reserved: 7, evicted: 0, opened: 2, waitingForRoom: 0 });
    expect(openNames(sut)).toEqual(['shared', 'a', 'b']);
    expect(await useOnce(sut, 'c')).toBe('c');
    expect(sut.snapshot().evicted).toBe(1);
  });

  it('closes a pool idle for idleCloseMs, never one in use (positive control: closed once given back)', async () => {
    jest.useFakeTimers();
    const sut = create({ idleCloseMs: 1_000 });
    await useOnce(sut, 'a');
    await jest.advanceTimersByTimeAsync(999);
    expect(openNames(sut)).toEqual(['shared', 'a']);
    await jest.advanceTimersByTimeAsync(1);
    expect(openNames(sut)).toEqual(['shared']);
    expect(sut.snapshot()).toMatchObject({ closedIdle: 1, reserved: 3 });

    const held = gate();
    const b = sut.use('b', () => held.wait);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(openNames(sut)).toEqual(['shared', 'b']);
    held.open();
    await b;
    await jest.advanceTimersByTimeAsync(1_000);
    expect(openNames(sut)).toEqual(['shared']);
    expect(sut.snapshot().closedIdle).toBe(2);
  });

  it('close() ends every dedicated pool and refuses later uses of them', async () => {
    const sut = create();
    await useOnce(sut, 'a');
    await useOnce(sut, 'b');
    await sut.close();
    expect(opened.every((p) => p.ended)).toBe(true);
    expect(sut.snapshot()).toMatchObject({ reserved: 3, pools: [{ database: 'shared' }] });
    await expect(useOnce(sut, 'a')).rejects.toThrow('closed');
  });
});

describe(dedicatedPoolMax.name, () => {
  it('keeps DB_POOL_SIZE_PER_DATABASE when every registered pool fits the budget', () => {
    expect(dedicatedPoolMax({ budget: 110, sharedMax: 10, perDatabaseMax: 5, databases: 20 })).toBe(5);
    expect(dedicatedPoolMax({ budget: 100, sharedMax: 10, perDatabaseMax: 5, databases: 0 })).toBe(5);
  });

  it('lowers it so that every registered pool fits, never below 1', () => {
    // 20 x 5 = 100 does not fit beside the shared 10 under 100: 20 x 4 = 80 does.
    expect(dedicatedPoolMax({ budget: 100, sharedMax: 10, perDatabaseMax: 5, databases: 20 })).toBe(4);
    expect(dedicatedPoolMax({ budget: 100, sharedMax: 10, perDatabaseMax: 5, databases: 45 })).toBe(2);
    // More databases than connections: pools of 1, evicted least recently used first.
    expect(dedicatedPoolMax({ budget: 100, sharedMax: 10, perDatabaseMax: 5, databases: 500 })).toBe(1);
  });
});
