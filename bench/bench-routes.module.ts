import { Controller, DynamicModule, Inject, Injectable, Module, OnApplicationShutdown, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { and, arrayContains, Column, eq, SQL, sql } from 'drizzle-orm';
import { drizzle, NodePgDatabase } from 'drizzle-orm/node-postgres';
import { pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import pg from 'pg';
import type { Cursor } from '../src/common/http/cursor';
import { createPool } from '../src/database/pg/pool';
import * as schema from '../src/database/schema';
import { DocumentRow, documents } from '../src/database/schema';
import { CommentsRepository } from '../src/documents/comments.repository';
import { DocumentsController } from '../src/documents/documents.controller';
import { DocumentsRepository } from '../src/documents/documents.repository';
import { DocumentsService } from '../src/documents/documents.service';
import type { TenantRequest } from '../src/admission/access.guard';
import { TenantRoute } from '../src/access/route-access.decorator';

/**
 * Bench-only routes (never part of the shipped app): the same documents API,
 * through the same global guard, interceptor, pipes, controller methods and
 * DocumentsService, with only the repository (how the query reaches Postgres)
 * swapped. Each variant is a subclass of the real DocumentsController mounted at
 * its own path, so routing, validation and serialisation are identical:
 *
 * - /bench/unscoped/documents: a plain Drizzle client on its own pool, no
 *   tenant filter, no transaction, no set_config, statements unprepared (what a
 *   plain drizzle() client sends), reading the same rows from
 *   bench_untenanted_documents: the documents table as a single-tenant app
 *   would have it (no tenant_id, primary key on id, the list index on
 *   created_at, no RLS; built by run.ts). The pool connects as the superuser
 *   (no grants to add on the bench database); see README "Benchmarks".
 * - /bench/unscoped-prepared/documents: the same with named prepared
 *   statements, the best an untenanted query can do (reference only).
 * - /bench/request-scoped/documents: the tenant's database handle comes from a
 *   Scope.REQUEST provider built per request, as the common NestJS + TypeORM
 *   multi-tenancy tutorials do; every query then runs as
 *   BEGIN / set_config / query / COMMIT, awaited one by one, and Nest rebuilds
 *   the repository, the service and the controller for every request (scope
 *   bubbles up the injection chain).
 */

export const BENCH_UNSCOPED_POOL = Symbol('BenchUnscopedPool');
export const BENCH_APP_POOL = Symbol('BenchAppPool');
const REQUEST_TENANT_DB = Symbol('RequestTenantDb');

export interface BenchRoutesOptions {
  /** Superuser URL of the bench database (the unscoped pools). */
  unscopedUrl: string;
  /** The runtime role's URL (the request-scoped design's pool), i.e. the app's DATABASE_URL. */
  appUrl: string;
  poolSize: number;
}

type Db = NodePgDatabase<typeof schema>;
type ListOptions = { limit: number; after?: Cursor; tag?: string };

/** What DocumentsService calls on its repository on the two benchmarked routes. */
type ReadRepository = Pick<DocumentsRepository, 'findById' | 'list'>;

class NotInBenchError extends Error {
  constructor() {
    super('Only GET /documents/:id and GET /documents are wired on bench routes');
  }
}

/** The documents table of a single-tenant app: same rows, no tenant_id, keyed by id (bench database only). */
const untenantedDocuments = pgTable('bench_untenanted_documents', {
  id: uuid('id').primaryKey(),
  title: text('title').notNull(),
  body: text('body').notNull(),
  tags: text('tags').array().notNull(),
  createdBy: uuid('created_by'),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
});

/** Same where/order/limit as DocumentsRepository, minus the tenant. */
function listWhere(table: { createdAt: Column; id: Column; tags: Column }, options: ListOptions): SQL | undefined {
  return and(
    options.after ? sql`(${table.createdAt}, ${table.id}) < (${options.after.createdAt}, ${options.after.id})` : undefined,
    options.tag ? arrayContains(table.tags, [options.tag]) : undefined,
  );
}
const newestFirst = (table: { createdAt: Column; id: Column }) => [sql`${table.createdAt} desc`, sql`${table.id} desc`];

/** Rows without tenant_id; DocumentsService reads only the columns both tables share. */
const asDocumentRows = (rows: Array<typeof untenantedDocuments.$inferSelect>) => rows as unknown as DocumentRow[];

@Injectable()
class UnscopedDocumentsRepository implements ReadRepository {
  private readonly db: Db;

  constructor(@Inject(BENCH_UNSCOPED_POOL) pool: pg.Pool) {
    this.db = drizzle({ client: pool, schema });
  }

  async findById(id: string): Promise<DocumentRow | undefined> {
    const rows = await this.db.select().from(untenantedDocuments).where(eq(untenantedDocuments.id, id)).limit(1);
    return asDocumentRows(rows)[0];
  }

  async list(options: ListOptions): Promise<DocumentRow[]> {
    const t = untenantedDocuments;
    return asDocumentRows(await this.db.select().from(t).where(listWhere(t, options)).orderBy(...newestFirst(t)).limit(options.limit));
  }
}

@Injectable()
class UnscopedPreparedDocumentsRepository implements ReadRepository {
  private readonly db: Db;
  private readonly byId;
  private readonly firstPage;
  private readonly fallback: UnscopedDocumentsRepository;

  constructor(@Inject(BENCH_UNSCOPED_POOL) pool: pg.Pool) {
    const t = untenantedDocuments;
    this.db = drizzle({ client: pool, schema });
    this.byId = this.db.select().from(t).where(eq(t.id, sql.placeholder('id'))).limit(1).prepare('bench_doc_by_id');
    this.firstPage = this.db.select().from(t).orderBy(...newestFirst(t)).limit(sql.placeholder('limit')).prepare('bench_doc_first_page');
    this.fallback = new UnscopedDocumentsRepository(pool);
  }

  async findById(id: string): Promise<DocumentRow | undefined> {
    return asDocumentRows(await this.byId.execute({ id }))[0];
  }

  async list(options: ListOptions): Promise<DocumentRow[]> {
    if (options.after || options.tag) return this.fallback.list(options);
    return asDocumentRows(await this.firstPage.execute({ limit: options.limit }));
  }
}

/**
 * The tutorials' per-request handle: a fresh Drizzle instance per request, and
 * each query in a transaction that first sets the tenant. The tenant is read
 * when a query runs, not when the provider is built: Nest builds request-scoped
 * providers before the guards have resolved the tenant.
 */
class RequestTenantDatabase {
  private readonly db: Db;

  constructor(
    pool: pg.Pool,
    private readonly request: TenantRequest,
  ) {
    this.db = drizzle({ client: pool, schema });
  }

  get tenantId(): string {
    const id = this.request.tenant?.id;
    if (!id) throw new Error('request-scoped tenant handle used without a resolved tenant');
    return id;
  }

  run<T>(fn: (tx: Db, tenantId: string) => Promise<T>): Promise<T> {
    const tenantId = this.tenantId;
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
      return fn(tx as unknown as Db, tenantId);
    });
  }
}

@Injectable()
class RequestScopedDocumentsRepository implements ReadRepository {
  constructor(@Inject(REQUEST_TENANT_DB) private readonly tenantDb: RequestTenantDatabase) {}

  findById(id: string): Promise<DocumentRow | undefined> {
    return this.tenantDb.run(async (tx, tenantId) => {
      const [row] = await tx.select().from(documents).where(and(eq(documents.tenantId, tenantId), eq(documents.id, id))).limit(1);
      return row;
    });
  }

  list(options: ListOptions): Promise<DocumentRow[]> {
    return this.tenantDb.run((tx, tenantId) =>
      tx
        .select()
        .from(documents)
        .where(and(eq(documents.tenantId, tenantId), listWhere(documents, options)))
        .orderBy(...newestFirst(documents))
        .limit(options.limit),
    );
  }
}

/** Comment routes are inherited from DocumentsController but not benchmarked. */
class UnusedCommentsRepository {
  create = () => Promise.reject(new NotInBenchError());
  findById = () => Promise.reject(new NotInBenchError());
  listForDocument = () => Promise.reject(new NotInBenchError());
  delete = () => Promise.reject(new NotInBenchError());
}

function variantProviders(repository: new (...args: any[]) => ReadRepository) {
  return [DocumentsService, { provide: DocumentsRepository, useClass: repository }, { provide: CommentsRepository, useClass: UnusedCommentsRepository }];
}

@TenantRoute()
@Controller('bench/unscoped/documents')
class UnscopedDocumentsController extends DocumentsController {}

@TenantRoute()
@Controller('bench/unscoped-prepared/documents')
class UnscopedPreparedDocumentsController extends DocumentsController {}

@TenantRoute()
@Controller('bench/request-scoped/documents')
class RequestScopedDocumentsController extends DocumentsController {}

@Module({ controllers: [UnscopedDocumentsController], providers: variantProviders(UnscopedDocumentsRepository) })
class UnscopedModule {}

@Module({ controllers: [UnscopedPreparedDocumentsController], providers: variantProviders(UnscopedPreparedDocumentsRepository) })
class UnscopedPreparedModule {}

@Module({
  controllers: [RequestScopedDocumentsController],
  providers: [
    ...variantProviders(RequestScopedDocumentsRepository),
    {
      provide: REQUEST_TENANT_DB,
      scope: Scope.REQUEST,
      inject: [REQUEST, BENCH_APP_POOL],
      useFactory: (request: TenantRequest, pool: pg.Pool) => new RequestTenantDatabase(pool, request),
    },
  ],
})
class RequestScopedModule {}

@Injectable()
class BenchPoolsCloser implements OnApplicationShutdown {
  constructor(
    @Inject(BENCH_UNSCOPED_POOL) private readonly unscoped: pg.Pool,
    @Inject(BENCH_APP_POOL) private readonly app: pg.Pool,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.unscoped.end(), this.app.end()]);
  }
}

@Module({})
export class BenchRoutesModule {
  static forRoot(options: BenchRoutesOptions): DynamicModule {
    // The same pool settings as the app's own (src/database/database.module.ts).
    const pool = (url: string, applicationName: string) =>
      createPool({ url, max: options.poolSize, statementTimeoutMs: 15_000, applicationName });
    return {
      module: BenchRoutesModule,
      global: true,
      imports: [UnscopedModule, UnscopedPreparedModule, RequestScopedModule],
      providers: [
        { provide: BENCH_UNSCOPED_POOL, useFactory: () => pool(options.unscopedUrl, 'bench-unscoped') },
        { provide: BENCH_APP_POOL, useFactory: () => pool(options.appUrl, 'bench-request-scoped') },
        BenchPoolsCloser,
      ],
      exports: [BENCH_UNSCOPED_POOL, BENCH_APP_POOL],
    };
  }
}
