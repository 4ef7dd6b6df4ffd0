import { Test, TestingModule } from '@nestjs/testing';
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { filesUnder } from '../helpers/files';
import { isPgServerError } from '../../src/common/errors/database-errors';
import { DummyValue, GenerateSql, generateSqlVariants } from '../../src/database/generate-sql.decorator';
import { createPool } from '../../src/database/pg/pool';
import { SystemDb } from '../../src/database/system-db';
import { createTenantDb, TenantDb } from '../../src/database/tenant-db';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { describeDifference, formatSql, MethodQueries, renderQueryFile } from '../helpers/query-files';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';
import { UNLIMITED_ENTITLEMENTS } from '../helpers/tenants';

/**
 * Every repository query visible in review: each method of every
 * src/**\/*.repository.ts is called with the sample arguments of its
 * @GenerateSql declaration against a real, migrated database, inside the
 * context of a fixed tenant, and the SQL text that reaches the pg client is
 * compared with src/queries/<file>.sql. `npm run db:queries` (UPDATE_QUERIES=1)
 * rewrites the files instead; a normal run never writes.
 */

const SRC = path.resolve(__dirname, '..', '..', 'src');
const QUERIES_DIR = path.join(SRC, 'queries');
const UPDATE = process.env.UPDATE_QUERIES === '1';
const UPDATE_HINT = 'run `npm run db:queries` and commit src/queries/';

const TENANT: Tenant = { id: '00000000-0000-4000-8000-0000000000aa', slug: 'queries', name: 'Queries', status: 'active', plan: 'free', entitlements: UNLIMITED_ENTITLEMENTS, database: 'shared' };

type RepositoryClass = { name: string; prototype: object } & (new (...args: never[]) => object);

const sourceFiles = (dir: string) => filesUnder(dir);

/** The methods a repository class declares itself (what review must see), in declaration order. */
function ownMethods(cls: { prototype: object }): string[] {
  return Object.getOwnPropertyNames(cls.prototype).filter((name) => {
    if (name === 'constructor') return false;
    const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, name);
    return typeof descriptor?.value === 'function';
  });
}

function undeclaredMethods(classes: RepositoryClass[]): string[] {
  return classes.flatMap((cls) => ownMethods(cls).filter((m) => !generateSqlVariants(cls.prototype, m)).map((m) => `${cls.name}.${m}`));
}

/** Statements that are infrastructure, not the repository's query: transaction control (and its set_config). */
const TRANSACTION_CONTROL = /^\s*(begin|commit|rollback)\b/i;

const repositories = sourceFiles(SRC)
  .filter((file) => file.endsWith('.repository.ts'))
  .map((file) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported = Object.values(require(file) as Record<string, unknown>);
    const classes = exported.filter(
      (value): value is RepositoryClass => typeof value === 'function' && /Repository$/.test(value.name) && !!value.prototype,
    );
    const name = path.basename(file, '.ts');
    return { file: path.relative(SRC, file), name, sqlFile: path.join(QUERIES_DIR, `${name}.sql`), classes };
  });

describe('repository queries (src/queries/*.sql)', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let moduleRef: TestingModule;
  let tenantDb: TenantDb;
  /** Texts sent through the pool's clients while a method runs; undefined when not recording. */
  let recorded: string[] | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    const superuser = new pg.Client({ connectionString: db.superuserUrl });
    await superuser.connect();
    try {
      await superuser.query('insert into tenants (id, slug, name) values ($1, $2, $3)', [TENANT.id, TENANT.slug, TENANT.name]);
    } finally {
      await superuser.end();
    }
    pool = createPool({ url: db.appUrl, max: 2, statementTimeoutMs: 5000, applicationName: 'queries' });
    // Observed at the pg client: whatever drizzle hands the client (strings, configs, and
    // TenantDb's batch, whose `text` is the statement without its set_config) is recorded.
    pool.on('connect', (client) => {
      const query = client.query as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: unknown, config: unknown, ...rest: unknown[]) {
        const text = typeof config === 'string' ? config : (config as { text?: unknown } | undefined)?.text;
        if (recorded && typeof text === 'string') recorded.push(text);
        return query.call(this, config, ...rest);
      };
    });
    tenantDb = createTenantDb(pool);
    moduleRef = await Test.createTestingModule({
      providers: [
        ...repositories.flatMap((r) => r.classes),
        { provide: TenantDb, useValue: tenantDb },
        // Every database name on this one pool: a sample tenant on a dedicated database writes its SQL here too.
        { provide: SystemDb, useValue: new SystemDb(pool, { use: (_database, fn) => fn(pool) }) },
      ],
    }).compile();
  });

  afterAll(async () => {
    await moduleRef?.close();
    await pool?.end();
    await db?.drop();
  });

  /** Calls every declared variant of every method of the file's repositories; the SQL each sent. */
  async function generate(classes: RepositoryClass[]): Promise<MethodQueries[]> {
    const out: MethodQueries[] = [];
    for (const cls of classes) {
      const instance = moduleRef.get(cls as never) as Record<string, (...args: unknown[]) => Promise<unknown>>;
      for (const method of ownMethods(cls)) {
        const variants = generateSqlVariants(cls.prototype, method) ?? [];
        for (const variant of variants) {
          const title = `${cls.name}.${method}${variant.name ? ` (${variant.name})` : ''}`;
          const params = variant.params ?? [];
          recorded = [];
          try {
            await TenantContext.run({ tenant: TENANT }, async () => {
              if (!params.includes(DummyValue.TX)) return await instance[method](...params);
              return await tenantDb.transaction((tx) => instance[method](...params.map((p) => (p === DummyValue.TX ? tx : p))));
            });
          } catch (error) {
            // Constraint violations and the like are fine (the sample ids point nowhere): the text is what counts.
            // drizzle wraps the pg error in DrizzleQueryError (cause); its message lists parameter values, so it is not shown.
            if (!isPgServerError(error) && !isPgServerError((error as { cause?: unknown })?.cause)) {
              throw new Error(`${title} failed without a database error (check its @GenerateSql params): ${(error as Error)?.message}`);
            }
          }
          const statements = recorded.filter((text) => !TRANSACTION_CONTROL.test(text));
          recorded = undefined;
          if (statements.length === 0) throw new Error(`${title} sent no SQL: give its @GenerateSql params that make it query`);
          out.push({ title, statements });
        }
      }
    }
    return out;
  }

  it('finds every repository and tells declared methods from undeclared ones (positive control)', () => {
    expect(repositories.length).toBeGreaterThanOrEqual(8);
    expect(repositories.filter((r) => r.classes.length === 0).map((r) => r.file)).toEqual([]);
    class SampleRepository {
      @GenerateSql({ params: [DummyValue.UUID] })
      declared(_id: string): void {}
      forgotten(): void {}
      get notAMethod(): number {
        return 1;
      }
    }
    expect(ownMethods(SampleRepository)).toEqual(['declared', 'forgotten']);
    expect(undeclaredMethods([SampleRepository as unknown as RepositoryClass])).toEqual(['SampleRepository.forgotten']);
  });

  it('declares @GenerateSql on every repository method', () => {
    const missing = undeclaredMethods(repositories.flatMap((r) => r.classes));
    if (missing.length > 0) {
      throw new Error(`Repository methods without @GenerateSql (src/database/generate-sql.decorator.ts):\n  ${missing.join('\n  ')}\nAdd it, then ${UPDATE_HINT}`);
    }
  });

  it('has a repository for every committed query file', () => {
    const expected = new Set(repositories.map((r) => path.basename(r.sqlFile)));
    expect(expected.size).toBe(repositories.length); // two repository files with one name would share a query file
    let committed: string[] = [];
    try {
      committed = readdirSync(QUERIES_DIR);
    } catch {
      // no directory yet: nothing stale
    }
    const stale = committed.filter((name) => !expected.has(name));
    if (UPDATE) {
      for (const name of stale) unlinkSync(path.join(QUERIES_DIR, name));
      return;
    }
    if (stale.length > 0) throw new Error(`Query files without a repository: ${stale.join(', ')}; ${UPDATE_HINT}`);
  });

  it('reports a changed query file and formats statements deterministically (positive control)', () => {
    const methods = [{ title: 'SampleRepository.find', statements: ['select "id", "name" from "documents" where "documents"."id" = $1 limit $2'] }];
    const committed = renderQueryFile(methods);
    expect(describeDifference(committed, renderQueryFile(methods))).toBeUndefined();
    const altered = renderQueryFile([{ ...methods[0], statements: [methods[0].statements[0].replace('limit $2', 'limit $2 offset $3')] }]);
    expect(describeDifference(committed, altered)).toMatch(/first difference at line/);
    expect(describeDifference(undefined, altered)).toMatch(/does not exist/);
    expect(formatSql(methods[0].statements[0])).toBe(
      ['select', '  "id",', '  "name"', 'from', '  "documents"', 'where', '  "documents"."id" = $1', 'limit', '  $2;'].join('\n'),
    );
    // Keywords inside parentheses, quoted identifiers and strings stay where they are.
    expect(formatSql(`insert into "t" ("select", "from") values ($1, 'a, where b') on conflict do nothing returning "id"`)).toBe(
      ['insert into', '  "t" ("select", "from")', 'values', "  ($1, 'a, where b')", 'on conflict', 'do nothing', 'returning', '  "id";'].join('\n'),
    );
  });

  for (const repository of repositories) {
    it(`${repository.file}: src/queries/${repository.name}.sql is up to date`, async () => {
      const generated = renderQueryFile(await generate(repository.classes));
      if (UPDATE) {
        mkdirSync(QUERIES_DIR, { recursive: true });
        writeFileSync(repository.sqlFile, generated);
        return;
      }
      let committed: string | undefined;
      try {
        committed = readFileSync(repository.sqlFile, 'utf8');
      } catch {
        committed = undefined;
      }
      const difference = describeDifference(committed, generated);
      if (difference) throw new Error(`src/queries/${repository.name}.sql is out of date (${difference})\n${UPDATE_HINT}`);
    });
  }
});
