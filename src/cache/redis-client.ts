import { Redis } from 'ioredis';

export interface RedisClientOptions {
  url: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Shown by CLIENT LIST, so an operator can tell the cache's connection from the rate limiter's. */
  connectionName: string;
  /** Commands issued in the same tick share one write and one round trip (the rate limiter's two counters). */
  autoPipelining?: boolean;
}

/**
 * An ioredis client tuned to degrade instead of piling up (the cache's and the
 * rate limiter's connections are built here, with the same settings):
 * - commandTimeout bounds every command, so a slow Redis costs a request at most that long;
 * - enableOfflineQueue=false: while disconnected, commands fail at once instead of
 *   queueing (a queue would hold requests hostage and replay stale writes later);
 * - maxRetriesPerRequest=1 and no resend of unfulfilled commands on reconnect;
 * - retryStrategy reconnects forever with capped backoff, so Redis comes back by itself.
 */
export function createRedisClient(options: RedisClientOptions): Redis {
  return new Redis(options.url, {
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000) + Math.floor(Math.random() * 100),
    connectionName: options.connectionName,
    enableAutoPipelining: options.autoPipelining ?? false,
    lazyConnect: false,
  });
}
