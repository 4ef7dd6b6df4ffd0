import { readFileSync } from 'node:fs';
import path from 'node:path';
import { envSchema } from '../src/config/env.schema';

/** Docs that must match the code: every variable the API reads is documented in .env.example. */
describe('.env.example', () => {
  const example = readFileSync(path.resolve(__dirname, '..', '.env.example'), 'utf8');
  const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
  // zod 4: the object inside the superRefine wrapper.
  const keys = Object.keys((envSchema as unknown as { shape?: Record<string, unknown>; def?: { in?: { shape: Record<string, unknown> } } }).shape ?? {});

  it('reads the schema keys (positive control)', () => {
    expect(keys).toEqual(expect.arrayContaining(['DATABASE_URL', 'ADMIN_API_KEY', 'TENANT_BASE_DOMAIN']));
  });

  it('documents every environment variable of the schema', () => {
    expect(keys.filter((key) => !documented.has(key))).toEqual([]);
  });
});
