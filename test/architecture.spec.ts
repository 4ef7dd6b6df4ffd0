import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The raw, unscoped database client must stay inside src/database (and the
 * provisioning/runtime code that runs before the app). Feature code gets
 * TenantDb or SystemDb only.
 */
describe('architecture', () => {
  const SRC = path.resolve(__dirname, '..', 'src');
  const ALLOWED = [/^database\//, /^runtime\//, /^main\.ts$/];
  const RAW_CLIENT =
    /(from|require\(|import\()\s*['"](pg|pg-pool|drizzle-orm\/node-postgres[^'"]*|[./]+\/database\/pg\/[^'"]+|[./]*pg\/[^'"]+)['"]/;

  function files(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') && !full.endsWith('.spec.ts') ? [full] : [];
    });
  }

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

  it('lets only the platform repositories use the SystemDb escape hatch', () => {
    // Each of these names its operations (SystemDb.run('<name>', ...)) and touches platform tables only.
    const allowed = ['database/', 'tenants/tenants.repository.ts', 'users/users.repository.ts', 'members/memberships.repository.ts'];
    const users = files(SRC)
      .map((file) => path.relative(SRC, file).split(path.sep).join('/'))
      .filter((rel) => /import[^;]*\bSystemDb\b[^;]*from/.test(readFileSync(path.join(SRC, rel), 'utf8')));
    expect(users.length).toBeGreaterThan(0); // positive control: the import pattern matches real imports
    expect(users.filter((rel) => !allowed.some((prefix) => rel.startsWith(prefix)))).toEqual([]);
  });

  it('never enters the tenant context with enterWith()', () => {
    const offenders = files(SRC).filter((file) => /\.enterWith\(/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('has no request-scoped providers in the tenancy path', () => {
    const offenders = files(SRC).filter((file) => /Scope\.REQUEST|scope:\s*Scope\.REQUEST/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
