import http from 'node:http';
import { AddressInfo } from 'node:net';
import pg from 'pg';
import { UUID_PATTERN } from '../src/common/uuid';
import { createPool, withClient } from '../src/database/pg/pool';
import { queryForTenant, StatementConfig } from '../src/database/pg/tenant-batch-query';
import { announceAndWait, failStartup, HELLO_BODY } from './child-server';

/**
 * The floor: what the documents routes cost with nothing of ours around the
 * query. A plain `node:http` server and a `pg` pool (the app's own createPool:
 * same size, timeouts and runtime role, same database and dataset) sending the
 * API's exact statements through the app's own `queryForTenant`
 * (src/database/pg/tenant-batch-query.ts, from dist/): set_config and the
 * statement in one extended-protocol batch with a single Sync, prepared per
 * connection. So the wire protocol, the SQL, the plans and RLS are the API's;
 * what is missing is Nest, Fastify, authentication (the tenant is the
 * x-tenant-id header, a uuid, nothing else checked), validation beyond that,
 * the service layer and drizzle.
 *
 * Routes: GET /documents/:id, GET /documents?limit=n (first page only, no
 * cursor, no tag), POST /documents, and GET /hello (the node:http ceiling).
 *
 * BARE_TENANT_DATABASES (bench:scale-out's floor): a JSON object tenant id ->
 * runtime-role URL of the dedicated database the tenant lives on; each such
 * database gets its own pool of DB_POOL_SIZE_PER_DATABASE (default 5), every
 * other tenant is served from DATABASE_URL's. What one server costs with
 * tenants spread over many databases, with nothing of ours but the statement.
 */

// The text drizzle sends for DocumentsRepository.findById / list / create (src/queries/documents.repository.sql),
// so the server prepares the very statements the API prepares, with the same parameters.
const COLUMNS = `"tenant_id", "id", "title", "body", "tags", "created_by", "created_at", "updated_at"`;
const FIND_BY_ID = `select ${COLUMNS} from "documents" where ("documents"."tenant_id" = $1 and "documents"."id" = $2) limit $3`;
const LIST_FIRST_PAGE = `select ${COLUMNS} from "documents" where "documents"."tenant_id" = $1 order by "documents"."created_at" desc, "documents"."id" desc limit $2`;
const CREATE =
  `insert into "documents" ("tenant_id", "id", "title", "body", "tags", "created_by", "created_at", "updated_at") ` +
  `values ($1, default, $2, $3, $4, $5, default, default) returning ${COLUMNS}`;

interface Row {
  id: string;
  title: string;
  body: string;
  tags: string[];
  created_at: Date;
  updated_at: Date;
}

const view = (row: Row) => ({
  id: row.id,
  title: row.title,
  body: row.body,
  tags: row.tags,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

/** The list's cursor, as src/common/http/cursor.ts encodes it. */
const cursorOf = (row: Row) => Buffer.from(JSON.stringify({ t: row.created_at.toISOString(), id: row.id })).toString('base64url');

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

const error = (res: http.ServerResponse, status: number, code: string, message: string) => send(res, status, { error: { code, message } });

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('bare server: DATABASE_URL is not set');
  const pool = createPool({
    url,
    max: Number(process.env.DB_POOL_SIZE ?? 10),
    statementTimeoutMs: Number(process.env.DB_STATEMENT_TIMEOUT_MS ?? 15_000),
    applicationName: 'tenancy-bench-bare',
  });
  const placed = JSON.parse(process.env.BARE_TENANT_DATABASES ?? '{}') as Record<string, string>;
  const dedicatedPools = new Map<string, pg.Pool>();
  const poolOfTenant = new Map<string, pg.Pool>();
  for (const [tenantId, databaseUrl] of Object.entries(placed)) {
    let dedicated = dedicatedPools.get(databaseUrl);
    if (!dedicated) {
      dedicated = createPool({
        url: databaseUrl,
        max: Number(process.env.DB_POOL_SIZE_PER_DATABASE ?? 5),
        statementTimeoutMs: Number(process.env.DB_STATEMENT_TIMEOUT_MS ?? 15_000),
        applicationName: 'tenancy-bench-bare',
      });
      dedicatedPools.set(databaseUrl, dedicated);
    }
    poolOfTenant.set(tenantId, dedicated);
  }
  const run = (tenantId: string, statement: StatementConfig): Promise<pg.QueryResult> =>
    withClient(poolOfTenant.get(tenantId) ?? pool, (client) => queryForTenant(client, tenantId, statement));

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    const queryAt = target.indexOf('?');
    const pathname = queryAt < 0 ? target : target.slice(0, queryAt);
    if (req.method === 'GET' && pathname === '/hello') return send(res, 200, HELLO_BODY);
    if (pathname !== '/documents' && !pathname.startsWith('/documents/')) return error(res, 404, 'ROUTE_NOT_FOUND', 'No such route');
    const tenantId = req.headers['x-tenant-id'];
    if (typeof tenantId !== 'string' || !UUID_PATTERN.test(tenantId)) return error(res, 400, 'TENANT_REQUIRED', 'x-tenant-id must be a uuid');

    if (pathname === '/documents' && req.method === 'GET') {
      const limitParam = new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1)).get('limit');
      const limit = limitParam === null ? 20 : Number(limitParam);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return error(res, 400, 'VALIDATION_FAILED', 'limit must be 1-100');
      const { rows } = await run(tenantId, { text: LIST_FIRST_PAGE, values: [tenantId, limit + 1] });
      const hasMore = rows.length > limit;
      const items = (hasMore ? rows.slice(0, limit) : rows) as Row[];
      return send(res, 200, { items: items.map(view), nextCursor: hasMore ? cursorOf(items[items.length - 1]) : null });
    }
    if (pathname === '/documents' && req.method === 'POST') {
      const body = (await readJson(req).catch(() => undefined)) as { title?: unknown; body?: unknown; tags?: unknown } | undefined;
      const tags = body?.tags ?? [];
      if (typeof body?.title !== 'string' || typeof body.body !== 'string' || !Array.isArray(tags)) {
        return error(res, 400, 'VALIDATION_FAILED', 'title and body are required');
      }
      const { rows } = await run(tenantId, { text: CREATE, values: [tenantId, body.title, body.body, tags, null] });
      return send(res, 201, view(rows[0] as Row));
    }
    const id = pathname.slice('/documents/'.length);
    if (req.method === 'GET' && UUID_PATTERN.test(id)) {
      const { rows } = await run(tenantId, { text: FIND_BY_ID, values: [tenantId, id, 1] });
      return rows.length ? send(res, 200, view(rows[0] as Row)) : error(res, 404, 'DOCUMENT_NOT_FOUND', 'Document not found');
    }
    return error(res, 404, 'ROUTE_NOT_FOUND', 'No such route');
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      process.stderr.write(`bare server: ${e?.stack ?? e}\n`);
      if (!res.headersSent) error(res, 500, 'INTERNAL', 'Internal error');
      else res.destroy();
    });
  });
  // As Fastify's defaults (and the API's): keep connections open between requests.
  server.keepAliveTimeout = 72_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  announceAndWait(port, async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await Promise.all([pool, ...dedicatedPools.values()].map((p) => p.end()));
  });
}

main().catch(failStartup('bare server'));
