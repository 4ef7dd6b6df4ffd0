import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import { TenantContext } from '../tenancy/tenant-context';

/** LOG_LEVEL keeps Nest's names (what operators already set); pino's equivalents. */
const PINO_LEVEL: Record<string, Level> = { fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

/**
 * Never logged whatever a caller passes: credentials in headers (both the request's
 * and a response's Set-Cookie) and in any body or object a caller logs by mistake.
 * Bodies are not logged at all; these paths are the second line of defence.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'password',
  'token',
  'accessToken',
  'apiKey',
  'key',
  'secret',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.apiKey',
  '*.key',
  '*.secret',
];

export interface LoggerOptions {
  /** Nest's level name (LOG_LEVEL). */
  level: string;
  format: 'json' | 'pretty';
  /** Where lines go instead of stdout (the tests capture them). */
  destination?: DestinationStream;
}

/**
 * The process' root pino logger. The mixin stamps tenantId and requestId on every
 * line written inside a tenant scope (TenantContext, AsyncLocalStorage), so no caller
 * passes them and no line of a tenant's request can lose them.
 */
export function createRootLogger(options: LoggerOptions): Logger {
  const config: pino.LoggerOptions = {
    level: PINO_LEVEL[options.level] ?? 'info',
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    mixin() {
      const scope = TenantContext.scope();
      return scope ? { tenantId: scope.tenant.id, requestId: scope.requestId } : {};
    },
  };
  if (options.destination) return pino(config, options.destination);
  if (options.format === 'pretty') {
    // Loaded only when asked for: production (JSON) never pays for the formatter. In-process
    // and synchronous (no worker thread): development output, where ordering beats throughput.
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    return pino(config, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', messageKey: 'msg' }));
  }
  return pino(config);
}

/** JSON unless asked otherwise, or a development terminal is reading (stdout is a TTY). */
export function logFormatFor(env: { NODE_ENV: string; LOG_FORMAT?: 'json' | 'pretty' }, stdoutIsTty: boolean): 'json' | 'pretty' {
  if (env.LOG_FORMAT) return env.LOG_FORMAT;
  return env.NODE_ENV !== 'production' && stdoutIsTty ? 'pretty' : 'json';
}

/**
 * Nest's LoggerService on pino, so `new Logger('Context')` anywhere in src (and Nest's
 * own bootstrap lines) write the same JSON lines, with the mixin's fields.
 * nestjs-pino does this too; see README "Logs" for why it is not used.
 */
export class PinoNestLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params, true);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  /**
   * Nest's calling convention: (message, ...extra, context), context last when the
   * Logger has one; error() puts the stack first. An object message becomes fields.
   */
  private write(level: Level, message: unknown, params: unknown[], withStack = false): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const rest = [...params];
    // A last string is the context, unless it is error()'s stack (a Logger without a context).
    const last = rest[rest.length - 1];
    const context = typeof last === 'string' && !last.includes('\n') ? (rest.pop() as string) : undefined;
    const fields: Record<string, unknown> = context ? { context } : {};
    if (withStack && typeof rest[0] === 'string') fields.stack = rest.shift();
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      const { msg, ...rest2 } = message as Record<string, unknown>;
      this.pino[level]({ ...fields, ...rest2 }, typeof msg === 'string' ? msg : undefined);
    } else {
      this.pino[level](fields, String(message));
    }
  }
}
