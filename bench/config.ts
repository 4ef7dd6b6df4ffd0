import type { Command } from 'commander';
import { commandLine } from './command-line';
import path from 'node:path';
import { RouteId, ROUTES } from './report';

/**
 * Benchmark settings: defaults < environment (BENCH_*) < command-line flags.
 * The defaults keep `npm run bench` to a few minutes on a 2-core machine; the
 * flatness comparison needs a second, large dataset:
 *
 *   npm run bench -- --tenants 10,10000            (100 documents per tenant: 1,000,000 rows)
 *   BENCH_TENANTS=10,10000 npm run bench
 *
 * `npm run bench -- --help` lists every setting (OPTIONS below) and exits; an
 * unknown flag is refused (exit 2) before anything starts. Parsed by commander,
 * like the ops CLI (src/cli).
 */

export interface BenchConfig {
  /** Datasets to build, by tenant count. The first one carries the full variant comparison. */
  tenants: number[];
  docsPerTenant: number;
  /** Measured seconds per variant, per route, per round. */
  durationSeconds: number;
  /** Unrecorded load before the rounds (per variant and route): JIT, caches, prepared statements. */
  warmupSeconds: number;
  rounds: number;
  connections: number;
  /** Tenants that receive traffic, spread evenly over the dataset (all of them when fewer). */
  activeTenants: number;
  /** API connection pool size (DB_POOL_SIZE), the same for every variant's pool. */
  poolSize: number;
  /** Variant ids to run; undefined => every variant. Checked against the variants in bench/variants.ts. */
  variants?: string[];
  /** Routes to measure, in ROUTES order whatever order they were given in. */
  routes: RouteId[];
  /** Where to write each server's CPU profile and its summary; undefined => no profiling. */
  profileDir?: string;
  /** Extra node flags for every server process. */
  nodeArgs: string[];
  /** Superuser URL of an existing server; unset => an embedded PostgreSQL in a temp dir. */
  databaseUrl?: string;
  /** Skip the Express server (adapter comparison). */
  express: boolean;
  resultsDir: string;
}

/** A bad value (commander refuses unknown flags itself): reported without a stack trace, exit code 2. */
export class UsageError extends Error {}

interface Option {
  /** Command-line flag; undefined for settings only the environment can give. */
  flag?: string;
  /** What the flag takes, for --help (no comma: commander splits flags on it); undefined for a flag without a value. */
  arg?: string;
  env: string;
  /** The value a flag without a value stands for, in the environment variable's terms. */
  flagValue?: string;
  help: string;
  /** The default, as --help shows it. */
  shown: (defaults: BenchConfig) => string;
  set: (config: BenchConfig, raw: string, name: string) => void;
}

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${name} must be a positive integer (got "${raw}")`);
  return value;
}

const list = (raw: string) => raw.split(',').map((part) => part.trim()).filter(Boolean);

const intOption = (flag: string, env: string, key: keyof BenchConfig, arg: string, help: string): Option => ({
  flag,
  arg,
  env,
  help,
  shown: (defaults) => String(defaults[key]),
  set: (config, raw, name) => ((config as unknown as Record<string, number>)[key] = positiveInt(name, raw)),
});

const OPTIONS: Option[] = [
  {
    flag: '--tenants',
    arg: 'COUNTS',
    env: 'BENCH_TENANTS',
    help: 'datasets to build, by tenant count, comma-separated; the first carries the full comparison, each further one adds a scoped@N variant',
    shown: (defaults) => defaults.tenants.join(','),
    set: (config, raw, name) => (config.tenants = list(raw).map((part) => positiveInt(name, part))),
  },
  intOption('--docs-per-tenant', 'BENCH_DOCS_PER_TENANT', 'docsPerTenant', 'N', 'documents seeded per tenant'),
  intOption('--duration', 'BENCH_DURATION', 'durationSeconds', 'SECONDS', 'measured seconds per variant, route and round'),
  intOption('--warmup', 'BENCH_WARMUP', 'warmupSeconds', 'SECONDS', 'unrecorded load per variant and route before the rounds'),
  intOption('--rounds', 'BENCH_ROUNDS', 'rounds', 'N', 'rounds; each runs every variant once per route, in a rotated order'),
  intOption('--connections', 'BENCH_CONNECTIONS', 'connections', 'N', 'autocannon connections'),
  intOption('--active-tenants', 'BENCH_ACTIVE_TENANTS', 'activeTenants', 'N', 'tenants receiving traffic, spread evenly over each dataset'),
  intOption('--pool-size', 'BENCH_POOL_SIZE', 'poolSize', 'N', 'database pool size of every server (DB_POOL_SIZE)'),
  {
    flag: '--variants',
    arg: 'IDS',
    env: 'BENCH_VARIANTS',
    help: 'run only these variants (comma-separated ids, listed below); the bare floor is added whenever an API variant runs (every ratio is taken against it)',
    shown: () => 'all',
    // The raw ids: which ids exist depends on --tenants and --no-express (bench/variants.ts checks them).
    set: (config, raw, name) => {
      const ids = list(raw);
      if (ids.length === 0) throw new UsageError(`${name} needs at least one variant id`);
      config.variants = ids;
    },
  },
  {
    flag: '--routes',
    arg: 'ROUTES',
    env: 'BENCH_ROUTES',
    help: `measure only these routes, comma-separated (${ROUTES.join(', ')})`,
    shown: (defaults) => defaults.routes.join(','),
    set: (config, raw, name) => {
      const wanted = list(raw);
      const unknown = wanted.filter((route) => !(ROUTES as string[]).includes(route));
      if (unknown.length > 0) throw new UsageError(`${name}: unknown route(s) ${unknown.join(', ')}. Known: ${ROUTES.join(', ')}`);
      if (wanted.length === 0) throw new UsageError(`${name} needs at least one route (${ROUTES.join(', ')})`);
      config.routes = ROUTES.filter((route) => wanted.includes(route));
    },
  },
  {
    flag: '--profile',
    arg: 'DIR',
    env: 'BENCH_PROFILE_DIR',
    help: 'run every server under --cpu-prof (DIR/<variant>/) and write DIR/<variant>.txt: top functions by self and inclusive time over the measured runs',
    shown: () => 'off',
    set: (config, raw) => (config.profileDir = path.resolve(raw)),
  },
  {
    flag: '--results-dir',
    arg: 'DIR',
    env: 'BENCH_RESULTS_DIR',
    help: 'where latest.{md,json} and the timestamped copies go',
    shown: (defaults) => path.relative(process.cwd(), defaults.resultsDir) || '.',
    set: (config, raw) => (config.resultsDir = raw),
  },
  {
    flag: '--no-express',
    env: 'BENCH_EXPRESS',
    flagValue: '0',
    help: 'skip the scoped (Express) variant',
    shown: () => 'Express variant runs',
    set: (config, raw) => (config.express = raw !== '0'),
  },
  {
    env: 'BENCH_DATABASE_URL',
    help: 'superuser URL of an existing PostgreSQL to use instead of an embedded one',
    shown: () => 'embedded PostgreSQL in a temp dir',
    set: (config, raw) => (config.databaseUrl = raw),
  },
  {
    env: 'BENCH_API_NODE_ARGS',
    help: 'extra node flags for every server process, space-separated (e.g. "--max-old-space-size=256")',
    shown: () => 'none',
    set: (config, raw) => (config.nodeArgs = raw.split(' ').filter(Boolean)),
  },
];

export function defaults(resultsDir: string): BenchConfig {
  return {
    tenants: [10],
    docsPerTenant: 100,
    // 20 s per variant and route in all, as 4 short rounds rather than 2 long ones: on a shared
    // machine a burst of outside load then spoils one paired ratio of four, not one of two.
    durationSeconds: 5,
    warmupSeconds: 3,
    rounds: 4,
    connections: 16,
    activeTenants: 100,
    poolSize: 10,
    routes: [...ROUTES],
    nodeArgs: [],
    express: true,
    resultsDir,
  };
}

/**
 * The bench's command line: every OPTIONS flag, `--help` (prints and exits 0
 * without starting anything), and a refusal of unknown flags and stray
 * arguments. exitOverride: commander throws a CommanderError (exitCode 0 for
 * --help) instead of exiting, and the caller decides the exit code.
 * `variantIds`: the ids --variants accepts with the default --tenants (bench/variants.ts).
 */
export function benchCommand(resultsDir: string, variantIds: string[]): Command {
  const base = defaults(resultsDir);
  const command = commandLine('bench', 'Each setting is also read from the environment variable shown; a flag wins over the environment.');
  for (const option of OPTIONS) {
    if (!option.flag) continue;
    const source = `env ${option.env}${option.flagValue === undefined ? '' : `=${option.flagValue}`}`;
    command.option(option.arg ? `${option.flag} <${option.arg}>` : option.flag, `${option.help} (default: ${option.shown(base)}; ${source})`);
  }
  const environmentOnly = OPTIONS.filter((option) => !option.flag).map((option) => `  ${option.env}=...  ${option.help} (default: ${option.shown(base)})`);
  command.addHelpText(
    'after',
    ['', 'Environment only:', ...environmentOnly, '', `Variants: ${variantIds.join(', ')}, and scoped@N for each further --tenants dataset.`, `Routes: ${ROUTES.join(', ')}.`].join('\n'),
  );
  return command;
}

/**
 * defaults < environment (BENCH_*) < flags. Throws commander's CommanderError
 * for --help (exitCode 0) and for an unknown flag or a missing value, a
 * UsageError for a bad value.
 */
export function parseBenchConfig(argv: string[], env: Record<string, string | undefined>, resultsDir: string, variantIds: string[] = []): BenchConfig {
  const command = benchCommand(resultsDir, variantIds);
  command.parse(argv, { from: 'user' });
  const config = defaults(resultsDir);
  for (const option of OPTIONS) {
    const raw = env[option.env];
    if (raw) option.set(config, raw, option.env);
  }
  const given = command.opts<Record<string, string | boolean>>();
  for (const option of OPTIONS) {
    const declared = option.flag ? command.options.find((candidate) => candidate.long === option.flag) : undefined;
    if (!declared) continue;
    const key = declared.attributeName();
    if (command.getOptionValueSource(key) !== 'cli') continue;
    option.set(config, option.arg ? String(given[key]) : option.flagValue!, option.flag!);
  }
  return config;
}
