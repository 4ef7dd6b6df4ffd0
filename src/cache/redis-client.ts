import { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from '../config/app-config';

/** One Redis server or a Redis Cluster: the same commands, routed by key slot on a cluster. */
export type RedisConnection = Redis | Cluster;

export interface RedisClientOptions {
  target: RedisTarget;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Shown by CLIENT LIST, so an operator can tell the cache's connection from the rate limiter's. */
  connectionName: string;
  /** Commands issued in the same tick share one write and one round trip (the rate limiter's two counters). */
  autoPipelining?: boolean;
}

/** Reconnects forever, backing off to at most 2 s (plus jitter, so instances do not reconnect in step). */
const reconnectDelay = (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000) + Math.floor(Math.random() * 100);

/**
 * A redirect (MOVED, ASK) costs a round trip each; a reshard needs one or two. Past a few the
 * slot map is wrong, and the request is better answered without Redis than kept waiting on it.
 */
const MAX_CLUSTER_REDIRECTIONS = 4;

/**
 * An ioredis client tuned to degrade instead of piling up (the cache's and the
 * rate limiter's connections are built here, with the same settings):
 * - commandTimeout bounds every command, so a slow Redis costs a request at most that long;
 * - enableOfflineQueue=false: while disconnected, commands fail at once instead of
 *   queueing (a queue would hold requests hostage and replay stale writes later);
 * - maxRetriesPerRequest=1 and no resend of unfulfilled commands on reconnect;
 * - reconnects forever with capped backoff, so Redis comes back by itself.
 *
 * For a Redis Cluster (target.kind 'cluster') the same, placed where ioredis's Cluster reads it:
 * - the per-connection settings (commandTimeout, connectTimeout, retries, name) go in `redisOptions`,
 *   which every node connection gets; enableOfflineQueue is the cluster's own option (ioredis
 *   ignores it in redisOptions and keeps a queue per node, which commandTimeout still bounds);
 * - clusterRetryStrategy is the reconnect: when every node is gone the cluster closes and
 *   reconnects through the listed nodes with the same backoff (a single node that goes away is
 *   dropped and found again through the slot map, as ioredis does by default);
 * - retryDelayOnFailover and retryDelayOnClusterDown are 0: by default a command that meets a
 *   closed node connection or CLUSTERDOWN is retried every 100 ms, up to maxRedirections (16)
 *   times, which is 1.6 s of a request held for a cache that may be skipped; here it fails at once
 *   and the caller falls back (the cache to PostgreSQL, the limiter to in-process counting);
 * - slotsRefreshTimeout is the connect timeout: a slot map refresh opens a connection and asks
 *   CLUSTER SLOTS, so it is bounded like a connection;
 * - scaleReads 'master': a replica may still hold an entry the master already deleted
 *   (replication is asynchronous), and the cache promises no stale read after a write.
 */
export function createRedisClient(options: RedisClientOptions): RedisConnection {
  const connection = {
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    connectionName: options.connectionName,
  };
  if (options.target.kind === 'cluster') {
    return new Cluster(
      options.target.nodes.map(({ host, port }) => ({ host, port })),
      {
        redisOptions: connection,
        enableOfflineQueue: false,
        clusterRetryStrategy: reconnectDelay,
        retryDelayOnFailover: 0,
        retryDelayOnClusterDown: 0,
        maxRedirections: MAX_CLUSTER_REDIRECTIONS,
        slotsRefreshTimeout: options.connectTimeoutMs,
        scaleReads: 'master',
        enableAutoPipelining: options.autoPipelining ?? false,
        lazyConnect: false,
      },
    );
  }
  return new Redis(options.target.url, {
    ...connection,
    enableOfflineQueue: false,
    retryStrategy: reconnectDelay,
    enableAutoPipelining: options.autoPipelining ?? false,
    lazyConnect: false,
  });
}

/** Every master of a cluster, each a connection of its own (what a SCAN must visit); one server is its own master. */
export function mastersOf(client: RedisConnection): Redis[] {
  if (!(client instanceof Cluster)) return [client];
  if (client.status !== 'ready') throw new Error(`Redis Cluster is not ready (${client.status})`);
  // The slot map names the master of every slot; the pool must have a connection to each, or a SCAN would skip its keys.
  const expected = new Set(client.slots.flatMap((owners) => (owners?.[0] ? [owners[0]] : [])));
  const masters = client.nodes('master');
  const connected = new Set(masters.map((node) => `${node.options.host}:${node.options.port}`));
  const missing = [...expected].filter((key) => !connected.has(key));
  if (expected.size === 0 || missing.length > 0) throw new Error(`Redis Cluster: no connection to master ${missing.join(', ') || '(no slot map)'}`);
  return masters.filter((node) => expected.has(`${node.options.host}:${node.options.port}`));
}
