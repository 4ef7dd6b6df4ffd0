import { readFileSync } from 'node:fs';
import path from 'node:path';
import { filesUnder } from './helpers/files';

/**
 * The raw, unscoped database client must stay inside src/database (and the
 * provisioning/runtime code that runs before the app). Feature code gets
 * TenantDb or SystemDb only. Folders import each other in one direction only
 * (the layer table below).
 */
describe('architecture', () => {
  const SRC = path.resolve(__dirname, '..', 'src');
  const ALLOWED = [/^database\//, /^runtime\//, /^main\.ts$/];
  const RAW_CLIENT =
    /(from|require\(|import\()\s*['"](pg|pg-pool|drizzle-orm\/node-postgres[^'"]*|[./]+\/database\/pg\/[^'"]+|[./]*pg\/[^'"]+)['"]/;

  const files = (dir: string) => filesUnder(dir, (file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'));


  it('finds source files (positive control)', () => {
    expect(files(SRC).length).toBeGreaterThan(20);
    expect(RAW_CLIENT.test("import pg from 'pg';")).toBe(true);
    expect(RAW_CLIENT.test("import { drizzle } from 'drizzle-orm/node-postgres';")).toBe(true);
    expect(RAW_CLIENT.test("const pg = require('pg');")).toBe(true);
    expect(RAW_CLIENT.test("await import('pg')")).toBe(true);
    expect(RAW_CLIENT.test("import { TenantDb } from '../database/tenant-db';")).toBe(false);
  });

  it('keeps pg, drizzle-orm/node-postgres and the pool out of feature code', () => {
    const offenders = files(SRC)
      .map((file) => path.relative(SRC, file).split(path.sep).join('/'))
      .filter((rel) => !ALLOWED.some((pattern) => pattern.test(rel)))
      .filter((rel) => RAW_CLIENT.test(readFileSync(path.join(SRC, rel), 'utf8')));
    expect(offenders).toEqual([]);
  });

  /** Files (relative to src) whose text matches `pattern`. */
  const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const filesMatching = (pattern: RegExp) =>
    files(SRC)
      .map((file) => path.relative(SRC, file).split(path.sep).join('/'))
      .filter((rel) => pattern.test(withoutComments(readFileSync(path.join(SRC, rel), 'utf8'))));
  const outside = (found: string[], allowed: string[]) => found.filter((rel) => !allowed.some((prefix) => rel.startsWith(prefix)));

  it('lets only the platform repositories use the SystemDb escape hatch', () => {
    // Each of these names its operations (SystemDb.run('<name>', ...)) and touches platform tables only.
    const users = filesMatching(/import[^;]*\bSystemDb\b[^;]*from/);
    expect(users.length).toBeGreaterThan(0); // positive control: the import pattern matches real imports
    expect(outside(users, ['database/', 'tenants/tenants.repository.ts', 'users/users.repository.ts', 'members/memberships.repository.ts', 'plans/plans.repository.ts', 'usage/usage-export.repository.ts', 'lifecycle/tenant-deletions.repository.ts', 'lifecycle/tenant-moves.repository.ts'])).toEqual([]);
  });

  it('lets only the services that write across platform and tenant tables open a platform transaction', () => {
    // Transactions.run hands out asTenant() for any tenant: the two multi-step writes that need it, and nothing else.
    const users = filesMatching(/import[^;]*\bTransactions\b[^;]*from/);
    expect(users.length).toBeGreaterThan(0); // positive control
    expect(outside(users, ['database/', 'tenants/tenants.service.ts', 'auth/auth.service.ts'])).toEqual([]);
  });

  it('reads password hashes in one place only', () => {
    const readers = filesMatching(/auth_password_hash/);
    expect(readers).toEqual(['users/users.repository.ts']);
  });

  it('never enters the tenant context with enterWith()', () => {
    const offenders = files(SRC).filter((file) => /\.enterWith\(/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('has no request-scoped providers in the tenancy path', () => {
    const offenders = files(SRC).filter((file) => /Scope\.REQUEST|scope:\s*Scope\.REQUEST/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
  /**
   * Folder layering. A layer is a top-level folder of src (database/schema is
   * its own layer: entity types that the access layer may name without
   * depending on the data layer). Each may import itself and the layers listed
   * here, nothing else; the composition root (app.module.ts, app.factory.ts,
   * main.ts) may import anything. Bottom to top.
   */
  const LAYERS: Record<string, readonly string[]> = {
    common: [],
    config: ['common'],
    tenancy: ['common'],
    'database/schema': ['tenancy'],
    database: ['common', 'config', 'tenancy', 'database/schema'],
    runtime: ['config', 'database', 'database/schema'],
    cache: ['common', 'config', 'tenancy'],
    storage: ['common', 'config', 'tenancy'],
    access: ['common', 'config', 'tenancy', 'database/schema'],
    // Request budgets and shared counters (Redis through cache/'s client and key builders).
    'rate-limits': ['common', 'config', 'tenancy', 'cache'],
    users: ['common', 'config', 'tenancy', 'database', 'database/schema'],
    // The usage ledger and quotas: below every feature that counts something.
    usage: ['common', 'config', 'tenancy', 'database', 'database/schema', 'access'],
    plans: ['common', 'tenancy', 'database', 'database/schema', 'access', 'usage'],
    // Background jobs: below every feature that enqueues (tenants' offboarding included). The worker enters a
    // tenant through TenantResolver, handed in by app.module.ts (JobsModule.forRoot), not imported.
    jobs: ['common', 'config', 'tenancy', 'database', 'database/schema', 'access'],
    members: ['common', 'config', 'tenancy', 'database', 'database/schema', 'access', 'users', 'usage'],
    'api-keys': ['common', 'tenancy', 'database', 'database/schema', 'access', 'usage'],
    auth: ['common', 'config', 'tenancy', 'database', 'database/schema', 'cache', 'access', 'users', 'members', 'rate-limits'],
    tenants: ['common', 'config', 'tenancy', 'database', 'database/schema', 'cache', 'access', 'users', 'members', 'plans'],
    documents: ['common', 'config', 'tenancy', 'database', 'database/schema', 'cache', 'storage', 'access', 'usage'],
    // Tenant lifecycle (offboarding): above tenants (suspension, the lookup), through cache and storage
    // for the tenant's keys and objects, and the database layer's owner connections (TenantErasure).
    // Moves: a job kind (jobs) and the plan row of a dedicated target's anchor (plans).
    lifecycle: ['common', 'config', 'tenancy', 'database', 'database/schema', 'cache', 'storage', 'access', 'tenants', 'exports', 'plans', 'jobs'],
    // Export and import: the database layer's owner connections (TenantRows), storage for the archives, tenants (the
    // lookup, a new tenant), jobs (the export runs as one), attachments' streamed body (the import's upload).
    exports: ['common', 'config', 'tenancy', 'database', 'database/schema', 'storage', 'access', 'tenants', 'jobs', 'attachments'],
    attachments: ['common', 'config', 'tenancy', 'database', 'database/schema', 'storage', 'access', 'usage'],
    // Semantic search over documents' embeddings: the engine (pgvector or exact scan) comes from the database layer.
    search: ['common', 'config', 'tenancy', 'database', 'database/schema', 'access'],
    // Readiness asks PostgreSQL through DatabaseProbe only (no query handle), cache and storage through their services.
    health: ['common', 'config', 'database', 'cache', 'storage', 'access'],
    // Reads the database only through PoolStats (no query handle), cache and storage through their counters.
    metrics: ['common', 'config', 'tenancy', 'database', 'cache', 'storage', 'access', 'rate-limits'],
    // Log lines read the tenant scope (the mixin); nothing else.
    logging: ['tenancy'],
    // The API contract reads every feature's routes through Nest's container, and their decorators (streamed bodies: attachments).
    openapi: ['common', 'access', 'attachments'],
    // Request admission sits above the features whose data it checks.
    admission: ['common', 'config', 'tenancy', 'database', 'access', 'auth', 'members', 'api-keys', 'tenants', 'rate-limits', 'usage'],
    // The ops CLI: an entry point beside main.ts; tenant work goes through TenantsModule's service, the
    // database only through provisioning (migrations, roles), never a raw client (checked above).
    cli: ['common', 'config', 'database', 'logging', 'cache', 'storage', 'tenants', 'plans', 'usage', 'lifecycle', 'exports'],
  };
  const ROOT = '(root)';

  interface Import {
    /** Importing file, relative to src. */
    file: string;
    /** Imported module, relative to src, without extension. */
    target: string;
  }

  const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]*)['"]/gm;

  /** Relative imports of one file's source, resolved against its folder. */
  function parseImports(file: string, source: string): Import[] {
    return [...source.matchAll(IMPORT)].map((match) => ({
      file,
      target: path.posix.normalize(path.posix.join(path.posix.dirname(file), match[1])),
    }));
  }

  function layerOf(rel: string): string {
    if (rel.startsWith('database/schema/') || rel === 'database/schema') return 'database/schema';
    return rel.includes('/') ? rel.split('/')[0] : ROOT;
  }

  /** "from -> to (file => import)" for every import that crosses layers against the table. */
  function forbiddenImports(imports: Import[], layers: Record<string, readonly string[]>): string[] {
    return imports.flatMap(({ file, target }) => {
      const from = layerOf(file);
      const to = layerOf(target);
      if (from === ROOT || from === to || layers[from]?.includes(to)) return [];
      return [`${from} -> ${to} (${file} imports ${target})`];
    });
  }

  /** Every cycle of the folder graph, as "a -> b -> a" (each reported once per starting edge found). */
  function folderCycles(edges: Array<[string, string]>): string[] {
    const next = new Map<string, Set<string>>();
    for (const [from, to] of edges) if (from !== to) next.set(from, (next.get(from) ?? new Set()).add(to));
    const cycles = new Set<string>();
    const done = new Set<string>();
    const visit = (node: string, trail: string[]) => {
      const at = trail.indexOf(node);
      if (at >= 0) {
        const loop = trail.slice(at);
        // Rotated so the same cycle found from another node reads the same.
        const first = loop.indexOf([...loop].sort()[0]);
        const canonical = [...loop.slice(first), ...loop.slice(0, first)];
        cycles.add([...canonical, canonical[0]].join(' -> '));
        return;
      }
      if (done.has(node)) return;
      for (const to of next.get(node) ?? []) visit(to, [...trail, node]);
      done.add(node);
    };
    for (const node of next.keys()) visit(node, []);
    return [...cycles].sort();
  }

  const allImports = () =>
    files(SRC).flatMap((full) => {
      const rel = path.relative(SRC, full).split(path.sep).join('/');
      return parseImports(rel, readFileSync(full, 'utf8'));
    });

  describe('layers', () => {
    it('parses real imports and reports forbidden edges and cycles (positive controls)', () => {
      const imports = allImports();
      expect(imports.length).toBeGreaterThan(100);
      expect(imports).toContainEqual({ file: 'admission/access.guard.ts', target: 'tenants/tenant-resolver.service' });
      expect(parseImports('a/b.ts', "import x from '../c/d';\nexport { y } from './e';\nconst z = await import('../f');\nimport './g';")).toEqual([
        { file: 'a/b.ts', target: 'c/d' },
        { file: 'a/b.ts', target: 'a/e' },
        { file: 'a/b.ts', target: 'f' },
        { file: 'a/b.ts', target: 'a/g' },
      ]);
      expect(parseImports('a/b.ts', "import { z } from 'zod';")).toEqual([]);

      expect(forbiddenImports([{ file: 'tenancy/tenant-context.ts', target: 'admission/access.guard' }], LAYERS)).toEqual([
        'tenancy -> admission (tenancy/tenant-context.ts imports admission/access.guard)',
      ]);
      expect(forbiddenImports([{ file: 'access/principal.ts', target: 'database/tenant-db' }], LAYERS)).toHaveLength(1);
      expect(forbiddenImports([{ file: 'access/principal.ts', target: 'database/schema/memberships' }], LAYERS)).toEqual([]);
      expect(forbiddenImports([{ file: 'app.module.ts', target: 'admission/admission.module' }], LAYERS)).toEqual([]);

      expect(folderCycles([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']])).toEqual(['a -> b -> c -> a']);
      expect(folderCycles([['a', 'b'], ['b', 'c']])).toEqual([]);
    });

    it('places every folder of src in the layer table', () => {
      const folders = new Set(files(SRC).map((full) => layerOf(path.relative(SRC, full).split(path.sep).join('/'))));
      folders.delete(ROOT);
      expect([...folders].filter((folder) => !(folder in LAYERS)).sort()).toEqual([]);
    });

    it('imports only in the allowed directions between top-level folders', () => {
      expect(forbiddenImports(allImports(), LAYERS)).toEqual([]);
    });

    it('has no cycles between folders, at any depth', () => {
      const imports = allImports();
      const topLevel = imports.map(({ file, target }): [string, string] => [layerOf(file), layerOf(target)]);
      // Every directory on its own too (common/errors vs common/http, database vs database/pg ...).
      const directories = imports.map(({ file, target }): [string, string] => [path.posix.dirname(file), path.posix.dirname(target)]);
      expect(folderCycles(topLevel)).toEqual([]);
      expect(folderCycles(directories)).toEqual([]);
    });
  });
});
