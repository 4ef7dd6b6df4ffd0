import { Command } from 'commander';
import { AppConfig } from '../config/app-config';
import { TenantVectorIndex, TenantVectorIndexes } from '../database/tenant-vector-indexes';
import { TenantsService } from '../tenants/tenants.service';
import { printJson, printLines, printTable } from './cli-output';
import { startProgress } from './cli-progress-bar';
import { withApplication } from './cli.module';

type Env = Record<string, string | undefined>;

function printIndexes(indexes: readonly TenantVectorIndex[]): void {
  printTable(
    indexes.map((index) => ({ ...index, valid: String(index.valid), dimension: String(index.dimension), bytes: String(index.bytes) })),
    ['tenantId', 'metric', 'name', 'valid', 'dimension', 'bytes'],
  );
}

/**
 * `tenants vector-index` and `tenants vector-indexes` (README "Semantic search"): per-tenant HNSW
 * indexes where pgvector is installed (src/database/tenant-vector-indexes.ts). Built on the
 * database holding the tenant's rows, through its owner connection (DATABASE_MIGRATION_URL, or the
 * dedicated database's migrationUrl), CONCURRENTLY: the tenant's writes go on meanwhile.
 */
export function addVectorIndexCommands(tenants: Command, env: Env): void {
  tenants
    .command('vector-index')
    .description(
      "build a tenant's own HNSW indexes (cosine and inner product) for semantic search, on the database holding its rows; needs pgvector 0.8+ there. " +
        'Its searches use them at once (no restart). Idempotent: run it again to resume a build that failed or to rebuild for a new EMBEDDING_DIMENSION. ' +
        'With --drop, removes them (its searches go back to the exact scan). Offboarding drops them and a move carries them',
    )
    .argument('<id-or-slug>', 'tenant id (UUID) or slug')
    .option('--drop', 'remove the tenant\'s indexes instead')
    .option('--json', 'print the indexes as a JSON array')
    .action(async (idOrSlug: string, options: { drop?: boolean; json?: boolean }) => {
      const { tenant, indexes, dropped } = await withApplication(env, async (context) => {
        const tenant = await context.get(TenantsService).get(idOrSlug);
        const vectorIndexes = context.get(TenantVectorIndexes);
        const placement = { tenantId: tenant.id, database: tenant.database };
        if (options.drop) return { tenant, indexes: [], dropped: await vectorIndexes.drop(placement) };
        const progress = startProgress(`vector-index ${tenant.slug}`, 2, 'indexes');
        try {
          return { tenant, indexes: await vectorIndexes.create(placement, context.get(AppConfig).vectors.dimension, (built) => progress.increment(1, built.name)), dropped: 0 };
        } finally {
          progress.stop();
        }
      });
      if (options.json) return printJson(indexes);
      if (options.drop) return printLines(`${tenant.slug} (${tenant.id}) on ${tenant.database}: ${dropped} index(es) dropped`);
      printLines(`${tenant.slug} (${tenant.id}) on ${tenant.database}: its searches use these HNSW indexes`);
      printIndexes(indexes);
    });

  tenants
    .command('vector-indexes')
    .description('the per-tenant HNSW indexes of one database (catalog only)')
    .option('--database <name>', '"shared" (default) or a TENANT_DATABASES name', 'shared')
    .option('--json', 'print a JSON array')
    .action(async (options: { database: string; json?: boolean }) => {
      const indexes = await withApplication(env, (context) => context.get(TenantVectorIndexes).list(options.database));
      if (options.json) return printJson(indexes);
      if (indexes.length === 0) return printLines(`no per-tenant HNSW indexes on ${options.database}`);
      printIndexes(indexes);
    });
}
