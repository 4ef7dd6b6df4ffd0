import { readFileSync } from 'node:fs';
import path from 'node:path';
import { filesUnder } from './helpers/files';
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

/** The repository is read on its own: no doc or comment may send a reader to files outside it. */
describe('self-contained docs', () => {
  const ROOT = path.resolve(__dirname, '..');
  const OUTSIDE = /\.\.\/shared\b|\bTOOLCHAIN\.md\b|\bDEVELOPERS\.md\b/;

  const files = (dir: string) => filesUnder(dir, (file) => /\.(ts|md|sql|json)$/.test(file));

  const candidates = [
    path.join(ROOT, 'README.md'),
    ...files(path.join(ROOT, 'docs')),
    ...files(path.join(ROOT, 'src')),
    ...files(path.join(ROOT, 'bench')).filter((f) => !f.includes(`${path.sep}dist${path.sep}`)),
  ];

  it('checks real files, and the pattern matches a reference (positive control)', () => {
    expect(candidates.length).toBeGreaterThan(50);
    expect(candidates).toContain(path.join(ROOT, 'docs', 'scale-out.md'));
    expect(OUTSIDE.test('see ../shared/TOOLCHAIN.md')).toBe(true);
  });

  it('holds no leftover merge conflict markers', () => {
    const MARKER = /^(<{7}|>{7}) /m;
    expect(MARKER.test('text\n<<<<<<< HEAD\n')).toBe(true); // positive control
    expect(candidates.filter((file) => MARKER.test(readFileSync(file, 'utf8'))).map((file) => path.relative(ROOT, file))).toEqual([]);
  });

  it('names no file outside the repository', () => {
    const offenders = candidates.filter((file) => OUTSIDE.test(readFileSync(file, 'utf8'))).map((file) => path.relative(ROOT, file));
    expect(offenders).toEqual([]);
  });
});

/** Every page under docs/ is reachable from the README, so none is written and then lost. */
describe('docs/', () => {
  const ROOT = path.resolve(__dirname, '..');
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const pages = filesUnder(path.join(ROOT, 'docs'), (file) => file.endsWith('.md')).map((file) => path.relative(ROOT, file).split(path.sep).join('/'));
  const unlinked = (names: string[]) => names.filter((name) => !readme.includes(`](${name})`) && !readme.includes(`](${name}#`));

  it('finds the pages, and reports a page the README does not link (positive control)', () => {
    expect(pages).toContain('docs/scale-out.md');
    expect(unlinked(['docs/never-written.md'])).toEqual(['docs/never-written.md']);
  });

  it('links every page from README.md', () => {
    expect(unlinked(pages)).toEqual([]);
  });
});
