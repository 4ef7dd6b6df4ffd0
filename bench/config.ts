/**
 * Benchmark settings: defaults < environment (BENCH_*) < command-line flags.
 * The defaults keep `npm run bench` to a few minutes on a 2-core machine; the
 * flatness comparison needs a second, large dataset:
 *
 *   npm run bench -- --tenants 10,10000            (100 documents per tenant: 1,000,000 rows)
 *   BENCH_TENANTS=10,10000 npm run bench
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
  /** Superuser URL of an existing server; unset => an embedded PostgreSQL in a temp dir. */
  databaseUrl?: string;
  /** Skip the Express server (adapter comparison). */
  express: boolean;
  resultsDir: string;
}

const FLAGS: Record<string, keyof BenchConfig> = {
  '--tenants': 'tenants',
  '--docs-per-tenant': 'docsPerTenant',
  '--duration': 'durationSeconds',
  '--warmup': 'warmupSeconds',
  '--rounds': 'rounds',
  '--connections': 'connections',
  '--active-tenants': 'activeTenants',
  '--pool-size': 'poolSize',
  '--results-dir': 'resultsDir',
};

const ENV: Record<string, keyof BenchConfig> = {
  BENCH_TENANTS: 'tenants',
  BENCH_DOCS_PER_TENANT: 'docsPerTenant',
  BENCH_DURATION: 'durationSeconds',
  BENCH_WARMUP: 'warmupSeconds',
  BENCH_ROUNDS: 'rounds',
  BENCH_CONNECTIONS: 'connections',
  BENCH_ACTIVE_TENANTS: 'activeTenants',
  BENCH_POOL_SIZE: 'poolSize',
  BENCH_RESULTS_DIR: 'resultsDir',
};

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer (got "${raw}")`);
  return value;
}

function assign(config: BenchConfig, key: keyof BenchConfig, name: string, raw: string): void {
  switch (key) {
    case 'tenants':
      config.tenants = raw.split(',').map((part) => positiveInt(name, part.trim()));
      return;
    case 'resultsDir':
      config.resultsDir = raw;
      return;
    default:
      (config as unknown as Record<string, number>)[key] = positiveInt(name, raw);
  }
}

export function parseBenchConfig(argv: string[], env: Record<string, string | undefined>, resultsDir: string): BenchConfig {
  const config: BenchConfig = {
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
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
    express: env.BENCH_EXPRESS !== '0',
    resultsDir,
  };
  for (const [name, key] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw) assign(config, key, name, raw);
  }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    if (flag === '--no-express') {
      config.express = false;
      continue;
    }
    const key = FLAGS[flag];
    if (!key) throw new Error(`Unknown flag ${flag}. Known: ${Object.keys(FLAGS).join(', ')}, --no-express`);
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new Error(`${flag} needs a value`);
    assign(config, key, flag, raw);
  }
  return config;
}
