import type pg from 'pg';
import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-codes';
import { SHARED_DATABASE } from '../../config/env.schema';

export interface DatabasePoolsOptions {
  /** Connections all pools together may hold (DB_POOL_BUDGET); the shared pool's max counts. */
  budget: number;
  /** The max of each dedicated database's pool (DB_POOL_SIZE_PER_DATABASE). */
  perDatabaseMax: number;
  /** A dedicated pool with nothing in use for this long is closed (DB_POOL_IDLE_CLOSE_MS). */
  idleCloseMs: number;
  /** How long a caller waits for room under the budget before DatabaseBusyError. */
  waitTimeoutMs: number;
}

export interface DatabasePoolSnapshot {
  /** The database's name in TENANT_DATABASES, or "shared". */
  database: string;
  /** Connections open (idle + checked out). */
  total: number;
  idle: number;
  /** Callers queued inside this pool for one of its connections. */
  waiting: number;
  max: number;
  /** Calls of use() running with this pool. */
  inUse: number;
  /** When a use() of this pool last ended (or when it opened), in `now()`'s clock. */
  lastUsedMs: number;
}

export interface DatabasePoolsSnapshot {
  budget: number;
  /** The max of each dedicated pool in effect (DB_POOL_SIZE_PER_DATABASE, or less: dedicatedPoolMax). */
  perDatabaseMax: number;
  /** Sum of the max of the open pools, the shared one and those still closing included; never above budget. */
  reserved: number;
  /** The shared pool first, then the open dedicated pools, least recently used first. */
  pools: DatabasePoolSnapshot[];
  /** Pools closed but whose connections are not all gone yet (still counted in reserved). */
  closing: number;
  /** Dedicated pools opened, evicted to make room, and closed for being idle, since start. */
  opened: number;
  evicted: number;
  closedIdle: number;
  /** Callers waiting for room under the budget to open their database's pool. */
  waitingForRoom: number;
}

/**
 * The max of each dedicated database's pool: DB_POOL_SIZE_PER_DATABASE, lowered (never below 1)
 * so that every registered dedicated database's pool fits the budget beside the shared pool.
 * Why: when the pools do not all fit, traffic spread over every database keeps evicting the
 * least recently used pool, which under even load is the next one needed; each eviction closes
 * its connections and the reopening connects and checks the schema again while that database's
 * requests wait (bench:scale-out measured p50 x14 and req/s / 20 with 20 pools of 5 under a
 * budget of 100). Slightly smaller pools that all stay open cost far less. With more databases
 * than the budget can give one connection each, pools of 1 are still evicted, least recently used first.
 */
export function dedicatedPoolMax(options: { budget: number; sharedMax: number; perDatabaseMax: number; databases: number }): number {
  const { budget, sharedMax, perDatabaseMax, databases } = options;
  if (databases <= 0) return perDatabaseMax;
  return Math.max(1, Math.min(perDatabaseMax, Math.floor((budget - sharedMax) / databases)));
}

/** How long a client should wait before retrying a request refused for want of room under the budget. */
const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * No pool could be opened for the database within the wait: every open pool
 * was in use and the budget full. A 503 the client may retry; the cause (for
 * the log only) names the database, which the client is not told.
 */
export class DatabaseBusyError extends AppError {
  constructor(
    readonly database: string,
    waitedMs: number,
  ) {
    super(ErrorCode.DatabaseBusy, 'The database is busy, retry shortly', undefined, { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) });
    this.name = 'DatabaseBusyError';
    this.cause = new Error(`no room under the pool budget for database "${database}" within ${waitedMs} ms: every open pool was in use`);
  }
}

class OpenPool {
  inUse = 0;
  idleTimer?: NodeJS.Timeout;
  /** Connections this pool opened whose socket has not closed yet (see DatabasePools.closePool). */
  private readonly connections = new Set<pg.PoolClient>();
  private whenNoConnections?: () => void;

  constructor(
    readonly database: string,
    readonly pool: pg.Pool,
    readonly max: number,
    public lastUsedMs: number,
  ) {}

  /** Follows the pool's connections until their sockets close (pg emits 'end' on the client then). */
  followConnections(): this {
    this.pool.on('connect', (client) => {
      this.connections.add(client);
      client.once('end', () => {
        this.connections.delete(client);
        if (!this.connections.size) this.whenNoConnections?.();
      });
    });
    return this;
  }

  allConnectionsClosed(): Promise<void> {
    if (!this.connections.size) return Promise.resolve();
    return new Promise((resolve) => {
      this.whenNoConnections = resolve;
    });
  }
}

/** A first use of a database whose pool waits for room; every caller that joins it shares the one pool. */
interface Opening {
  promise: Promise<OpenPool>;
  /** Callers waiting on `promise`: all of them are counted in use the moment the pool opens. */
  joiners: number;
}

interface RoomWaiter {
  /** How many callers wait on this room: those that joined the opening so far. */
  callers: () => number;
  max: number;
  grant: () => void;
  timer: NodeJS.Timeout;
}

/**
 * One pg pool per database a tenant may live on, within one connection budget.
 *
 * The guarantee, for the server's sake: the sum of the `max` of every pool
 * that may hold a connection (the shared one, the open dedicated ones, and the
 * closed ones whose connections have not all gone yet) never exceeds `budget`.
 * pg-pool's end() resolves once it has asked its connections to close, not once
 * they are closed, so a closed pool keeps its share until the last socket has
 * closed; only then may another pool use it.
 *
 * Room for a new pool comes from closing the least recently used dedicated pool
 * that nothing is using. A pool is in use while a use() of it runs, and is never
 * closed under one. When every dedicated pool is in use, callers wait in
 * arrival order, up to waitTimeoutMs, then get DatabaseBusyError (503).
 *
 * Not bounded here: within one pool, pg-pool may open a replacement while a
 * discarded connection (broken, or past the pool's own idle timeout) is still
 * closing, so the server may briefly see one connection more for that pool.
 */
export class DatabasePools {
  private readonly shared: OpenPool;
  /** Open dedicated pools, in least recently used order (a pool moves to the end when a use ends). */
  private readonly open = new Map<string, OpenPool>();
  private readonly opening = new Map<string, Opening>();
  private readonly roomWaiters: RoomWaiter[] = [];
  private readonly closingPools = new Set<Promise<void>>();
  private reserved: number;
  /** Part of reserved held by closing pools: room on its way, so no more pools are closed than needed. */
  private freeing = 0;
  private opened = 0;
  private evicted = 0;
  private closedIdle = 0;
  private closed = false;

  constructor(
    shared: pg.Pool,
    private readonly openPool: (name: string, max: number) => pg.Pool,
    private readonly options: DatabasePoolsOptions,
    private readonly now: () => number = () => Date.now(),
  ) {
    const sharedMax = maxOf(shared);
    if (sharedMax + options.perDatabaseMax > options.budget) {
      throw new Error(`a pool budget of ${options.budget} leaves no room for a dedicated pool of ${options.perDatabaseMax} beside the shared pool's ${sharedMax}`);
    }
    this.shared = new OpenPool(SHARED_DATABASE, shared, sharedMax, now());
    this.reserved = sharedMax;
  }

  /**
   * fn with the named database's pool ("shared": the shared pool), opened on
   * first use. While fn runs the pool is in use: never closed under it. Rejects
   * with what openPool throws (an unknown name), or DatabaseBusyError.
   */
  async use<T>(name: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
    const entry = await this.acquire(name);
    try {
      return await fn(entry.pool);
    } finally {
      this.release(entry);
    }
  }

  snapshot(): DatabasePoolsSnapshot {
    const view = (entry: OpenPool): DatabasePoolSnapshot => ({
      database: entry.database,
      total: entry.pool.totalCount,
      idle: entry.pool.idleCount,
      waiting: entry.pool.waitingCount,
      max: entry.max,
      inUse: entry.inUse,
      lastUsedMs: entry.lastUsedMs,
    });
    return {
      budget: this.options.budget,
      perDatabaseMax: this.options.perDatabaseMax,
      reserved: this.reserved,
      pools: [this.shared, ...this.open.values()].map(view),
      closing: this.closingPools.size,
      opened: this.opened,
      evicted: this.evicted,
      closedIdle: this.closedIdle,
      waitingForRoom: this.roomWaiters.reduce((sum, waiter) => sum + waiter.callers(), 0),
    };
  }

  /** Ends every dedicated pool (waiting for what is in use to be given back); the shared pool belongs to its creator. */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.roomWaiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.grant();
    }
    for (const entry of [...this.open.values()]) this.closePool(entry);
    // Openings granted room meanwhile see `closed` and close their pool; wait for those too.
    await Promise.allSettled([...this.opening.values()].map((opening) => opening.promise));
    await Promise.all([...this.closingPools]);
  }

  /** The entry, counted in use before any other caller can see it idle. */
  private acquire(name: string): OpenPool | Promise<OpenPool> {
    if (name === SHARED_DATABASE) {
      this.shared.inUse++;
      return this.shared;
    }
    if (this.closed) throw new Error('the database pools are closed');
    const entry = this.open.get(name);
    if (entry) {
      // Its idle timer may still be armed: it checks inUse when it fires.
      entry.inUse++;
      return entry;
    }
    const opening = this.opening.get(name) ?? this.startOpening(name);
    opening.joiners++;
    return opening.promise;
  }

  private release(entry: OpenPool): void {
    entry.inUse--;
    entry.lastUsedMs = this.now();
    if (entry === this.shared || this.open.get(entry.database) !== entry) return;
    // Re-inserted: the Map's order stays least recently used first.
    this.open.delete(entry.database);
    this.open.set(entry.database, entry);
    if (entry.inUse > 0) return;
    this.armIdleClose(entry);
    if (this.roomWaiters.length) this.makeRoom();
  }

  private startOpening(name: string): Opening {
    // Before any room is taken: an unknown name throws here, with nothing reserved or evicted.
    // A new pg.Pool holds no connection until its first query.
    const pool = this.openPool(name, this.options.perDatabaseMax);
    const max = maxOf(pool);
    if (max > this.options.perDatabaseMax) {
      void pool.end();
      throw new Error(`openPool gave database "${name}" a pool of ${max}, above the ${this.options.perDatabaseMax} per database`);
    }
    const opening: Opening = {
      joiners: 0,
      promise: this.reserve(name, max, () => opening.joiners).then(
        () => {
          this.opening.delete(name);
          const entry = new OpenPool(name, pool, max, this.now()).followConnections();
          entry.inUse = opening.joiners;
          this.opened++;
          if (this.closed) {
            this.closePool(entry);
            throw new Error('the database pools are closed');
          }
          this.open.set(name, entry);
          return entry;
        },
        (error: unknown) => {
          this.opening.delete(name);
          void pool.end();
          throw error;
        },
      ),
    };
    this.opening.set(name, opening);
    return opening;
  }

  /** Resolves once `max` connections are reserved for `database`'s pool; rejects with DatabaseBusyError past the wait. */
  private reserve(database: string, max: number, callers: () => number): Promise<void> {
    if (!this.roomWaiters.length && this.reserved + max <= this.options.budget) {
      this.reserved += max;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: RoomWaiter = {
        callers,
        max,
        grant: () => (this.closed ? reject(new Error('the database pools are closed')) : resolve()),
        timer: setTimeout(() => {
          this.roomWaiters.splice(this.roomWaiters.indexOf(waiter), 1);
          reject(new DatabaseBusyError(database, this.options.waitTimeoutMs));
          // Room already on its way for this caller now goes to the next one.
          this.makeRoom();
        }, this.options.waitTimeoutMs),
      };
      this.roomWaiters.push(waiter);
      this.makeRoom();
    });
  }

  /**
   * Grants room to waiters in arrival order. When the first one does not fit,
   * closes idle pools, least recently used first, until what is closing covers
   * it; each closing pool calls back here once its connections are gone.
   */
  private makeRoom(): void {
    while (this.roomWaiters.length) {
      const first = this.roomWaiters[0];
      if (this.reserved + first.max <= this.options.budget) {
        this.roomWaiters.shift();
        clearTimeout(first.timer);
        this.reserved += first.max;
        first.grant();
        continue;
      }
      let missing = this.reserved + first.max - this.options.budget - this.freeing;
      for (const entry of this.open.values()) {
        if (missing <= 0) break;
        if (entry.inUse > 0) continue;
        this.evicted++;
        this.closePool(entry);
        missing -= entry.max;
      }
      return;
    }
  }

  private armIdleClose(entry: OpenPool): void {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      if (entry.inUse > 0 || this.open.get(entry.database) !== entry) return;
      this.closedIdle++;
      this.closePool(entry);
    }, this.options.idleCloseMs);
    // An idle pool must not keep the process alive.
    entry.idleTimer.unref();
  }

  /** Out of `open` at once; its share of the budget stays reserved until its last connection has closed. */
  private closePool(entry: OpenPool): void {
    this.open.delete(entry.database);
    clearTimeout(entry.idleTimer);
    this.freeing += entry.max;
    const done = entry.pool
      .end()
      .catch(() => undefined)
      .then(() => entry.allConnectionsClosed())
      .then(() => {
        this.reserved -= entry.max;
        this.freeing -= entry.max;
        this.closingPools.delete(done);
        this.makeRoom();
      });
    this.closingPools.add(done);
  }
}

/** pg's own default when a pool is made without max. */
function maxOf(pool: pg.Pool): number {
  return pool.options.max ?? 10;
}
