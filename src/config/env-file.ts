import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv as parseDotEnv } from 'node:util';

/**
 * The one place a `.env` file is read, by the entry points (main.ts and the ops
 * CLI) before anything validates the environment. Only `.env` in the working
 * directory, and only when present: an absent file is the normal case
 * (embedded mode, containers, CI). A variable already in the real environment
 * wins over the file, so `PORT=4000 npm start` and a container's `environment:`
 * keep working with a developer's `.env` lying around; the file fills gaps,
 * never overrides. Parsed with Node's own dotenv grammar (util.parseEnv, Node
 * >= 20.12), no package.
 *
 * Tests never call this: they build the app and the CLI's environment
 * explicitly (test/helpers/test-app.ts, and the CLI specs spawn it in an empty
 * temporary folder), so a developer's `.env` cannot change what they check.
 *
 * Returns the names taken from the file (for a debug line; values never).
 */
export function loadDotEnv(env: Record<string, string | undefined> = process.env, cwd: string = process.cwd()): string[] {
  const file = path.join(cwd, '.env');
  if (!existsSync(file)) return [];
  const values = parseDotEnv(readFileSync(file, 'utf8'));
  const taken: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    taken.push(name);
  }
  return taken;
}
