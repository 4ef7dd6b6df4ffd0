import { messageOf } from '../common/errors/error-messages';
import { InvalidEnvironmentError } from '../config/env.schema';

/** The CLI's exit codes (README "Ops CLI"): ok, the command failed, the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A wrong command line found after commander's own checks (e.g. an invalid slug): exit 2, no stack. */
export class UsageError extends Error {}

/**
 * The error at the bottom of a `.cause` chain. Drivers wrap what went wrong:
 * drizzle's "Failed query: <sql>" keeps pg's error as `cause`, which keeps
 * none; the message an operator needs ("connect ECONNREFUSED 127.0.0.1:5999",
 * "password authentication failed for user ...") is the last one.
 */
export function rootCause(error: unknown): unknown {
  let current = error;
  const seen = new Set<unknown>();
  while (typeof current === 'object' && current !== null && 'cause' in current && current.cause !== undefined && !seen.has(current)) {
    seen.add(current);
    current = current.cause;
  }
  return current;
}

/** What the CLI prints on failure (stderr): the root cause first, then what was being done when it struck. */
export function describeFailure(error: unknown, verbose: boolean): string {
  if (error instanceof InvalidEnvironmentError || error instanceof UsageError) return `error: ${error.message}\n`;
  const root = rootCause(error);
  const lines = [`error: ${messageOf(root)}`];
  const code = (root as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') lines.push(`  code: ${code}`);
  if (root !== error) {
    // The wrapper's message (e.g. drizzle's "Failed query: <sql>") says what was being done; its first line is enough.
    lines.push(`  while: ${messageOf(error).split('\n')[0].slice(0, 200)}`);
  }
  if (verbose && error instanceof Error && error.stack) lines.push(error.stack);
  return `${lines.join('\n')}\n`;
}
