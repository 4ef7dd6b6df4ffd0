import { BenchConfig, UsageError } from './config';
import { FLOOR_VARIANT, RouteId, VariantInfo } from './report';

/**
 * Every variant a run can measure, and the selection --variants and --routes
 * make of them. Each runs in its own process (run.ts); see README "Benchmarks"
 * for what each one is.
 */

export interface VariantPlan extends VariantInfo {
  routes: RouteId[];
  /** Index in config.tenants of the dataset it serves. */
  dataset: number;
  /** Path of the documents routes (or of /hello). */
  prefix: string;
  /** The server it runs, from bench/dist. */
  script: string;
  /** Connects through a transaction-mode PgBouncer (DB_POOLER=transaction) instead of directly. */
  pooler?: 'pgbouncer';
}

const READS: RouteId[] = ['get', 'list'];

export function planVariants(config: Pick<BenchConfig, 'tenants' | 'express'>): VariantPlan[] {
  const t = config.tenants[0];
  const api = (id: string, label: string, prefix: string, extra: Partial<VariantPlan> = {}): VariantPlan => ({
    id,
    label,
    adapter: 'fastify',
    tenants: t,
    kind: 'api',
    routes: READS,
    dataset: 0,
    prefix,
    script: 'server.js',
    ...extra,
  });
  return [
    api('scoped', 'scoped (Fastify)', '/documents', { routes: [...READS, 'create'] }),
    api('scoped-apikey', 'scoped (Fastify), API key', '/documents', { routes: [...READS, 'create'], credential: 'api-key' }),
    api('scoped-pgbouncer', 'scoped (Fastify), through PgBouncer', '/documents', { routes: [...READS, 'create'], pooler: 'pgbouncer' }),
    api('unscoped', 'unscoped baseline', '/bench/unscoped/documents'),
    api('unscoped-prepared', 'unscoped, prepared (reference)', '/bench/unscoped-prepared/documents'),
    api('request-scoped', 'request-scoped design', '/bench/request-scoped/documents'),
    ...(config.express ? [api('scoped-express', 'scoped (Express)', '/documents', { adapter: 'express' })] : []),
    ...config.tenants.slice(1).map((tenants, i) => api(`scoped@${tenants}`, `scoped (Fastify), ${tenants} tenants`, '/documents', { tenants, dataset: i + 1 })),
    // The floor and the framework ceilings (main dataset): see bench/bare-server.ts, hello-fastify.ts, hello-nest.ts.
    api(FLOOR_VARIANT, 'bare node:http + pg (floor)', '/documents', { adapter: 'node:http', kind: 'floor', routes: ['get', 'list', 'hello', 'create'], script: 'bare-server.js' }),
    api('hello-fastify', 'plain Fastify hello (ceiling)', '/hello', { kind: 'ceiling', routes: ['hello'], script: 'hello-fastify.js' }),
    api('hello-nest', 'Nest + Fastify hello (ceiling)', '/hello', { kind: 'ceiling', routes: ['hello'], script: 'hello-nest.js' }),
  ];
}

/**
 * The variants to run, each narrowed to the routes to measure. Refuses unknown
 * ids, and a named variant that serves none of the routes; adds the floor to
 * any selection with an API variant, since every ratio is taken against it.
 * Returns notes on what it added or left out.
 */
export function selectVariants(plan: VariantPlan[], config: Pick<BenchConfig, 'variants' | 'routes'>): { variants: VariantPlan[]; notes: string[] } {
  const notes: string[] = [];
  let chosen = plan;
  if (config.variants) {
    const unknown = config.variants.filter((id) => !plan.some((variant) => variant.id === id));
    if (unknown.length > 0) throw new UsageError(`--variants: unknown variant(s) ${unknown.join(', ')}. Known: ${plan.map((variant) => variant.id).join(', ')}`);
    chosen = plan.filter((variant) => config.variants!.includes(variant.id));
    if (chosen.some((variant) => variant.kind === 'api') && !chosen.some((variant) => variant.id === FLOOR_VARIANT)) {
      chosen = plan.filter((variant) => variant.id === FLOOR_VARIANT || chosen.includes(variant));
      notes.push(`added ${FLOOR_VARIANT}: every API route is compared with the floor`);
    }
  }
  const variants: VariantPlan[] = [];
  for (const variant of chosen) {
    const routes = variant.routes.filter((route) => config.routes.includes(route));
    if (routes.length > 0) {
      variants.push({ ...variant, routes });
      continue;
    }
    if (config.variants?.includes(variant.id)) {
      throw new UsageError(`${variant.id} serves none of the selected routes (${config.routes.join(', ')}); it serves ${variant.routes.join(', ')}`);
    }
    notes.push(`left out ${variant.id}: it serves none of the selected routes`);
  }
  if (variants.length === 0) throw new UsageError('no variant serves the selected routes');
  return { variants, notes };
}
