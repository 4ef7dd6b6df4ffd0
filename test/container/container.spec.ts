import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { envSchema, migrateEnvSchema, parseEnv, validateEnv } from '../../src/config/env.schema';

/**
 * What can be checked of the container without a Docker engine (there is
 * none on the machines this runs on): docker-compose.yml and the Dockerfile
 * are parsed, every file they name must exist, the API's environment must be
 * one the API accepts, and the Dockerfile's production install must succeed
 * in a plain shell. Whether the image builds and the stack comes up is not
 * proven here (README "Container").
 */
const ROOT = path.resolve(__dirname, '..', '..');

interface Service {
  build?: string | { context: string; dockerfile?: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  configs?: Array<{ source: string; target: string }>;
  volumes?: string[];
  healthcheck?: { test: string[] };
}
interface Compose {
  services: Record<string, Service>;
  configs?: Record<string, { content?: string; file?: string }>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
const schemaKeys = (schema: unknown) => Object.keys((schema as { shape: Record<string, unknown> }).shape);

/** `${NAME:-default}` and `${NAME}` as compose substitutes them, from `vars` (nothing else: no .env here). */
function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_match, name: string, fallback?: string) => vars[name] || fallback || '');
}

describe('docker-compose.yml', () => {
  const api = compose.services.api;
  const migrate = compose.services.migrate;

  it('has the api and migrate services beside postgres, redis and minio (positive control of the parse)', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'redis', 'minio', 'minio-init', 'migrate', 'api']));
  });

  it('names only files, configs and volumes that exist', () => {
    const missing: string[] = [];
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build) {
        const context = typeof service.build === 'string' ? service.build : service.build.context;
        const dockerfile = typeof service.build === 'string' ? 'Dockerfile' : (service.build.dockerfile ?? 'Dockerfile');
        if (!existsSync(path.join(ROOT, context, dockerfile))) missing.push(`${name}: build ${context}/${dockerfile}`);
      }
      for (const config of service.configs ?? []) if (!compose.configs?.[config.source]) missing.push(`${name}: config ${config.source}`);
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        const bind = source.startsWith('.') || source.startsWith('/');
        if (bind ? !existsSync(path.resolve(ROOT, source)) : !(source in (compose.volumes ?? {}))) missing.push(`${name}: volume ${source}`);
      }
    }
    for (const [name, config] of Object.entries(compose.configs ?? {})) {
      if (config.file && !existsSync(path.join(ROOT, config.file))) missing.push(`config ${name}: file ${config.file}`);
    }
    expect(missing).toEqual([]);
  });

  it('starts the api once postgres, redis and minio are healthy and migrate has completed', () => {
    expect(api.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      minio: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    });
    expect(migrate.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
    for (const dependency of ['postgres', 'redis', 'minio']) expect(compose.services[dependency].healthcheck?.test.length).toBeGreaterThan(0);
  });

  it('runs the ops CLI migrate with the owner role, and the API with the runtime role, as created by the postgres init script', () => {
    expect(migrate.command).toEqual(['node', 'dist/cli/cli.js', 'migrate']);
    expect(existsSync(path.join(ROOT, 'src', 'cli', 'cli.ts'))).toBe(true);
    const init = compose.configs?.['postgres-roles']?.content ?? '';
    const role = (url: string) => {
      const parsed = new URL(url);
      return { user: parsed.username, password: parsed.password, host: parsed.hostname, database: parsed.pathname.slice(1) };
    };
    const owner = role(migrate.environment!.DATABASE_MIGRATION_URL);
    const app = role(api.environment!.DATABASE_URL);
    expect(owner).toMatchObject({ user: 'app_owner', host: 'postgres', database: 'app' });
    expect(app).toMatchObject({ user: 'app_user', host: 'postgres', database: 'app' });
    expect(init).toContain(`create role app_owner login nosuperuser nobypassrls password '${owner.password}'`);
    expect(init).toContain(`create role app_user login nosuperuser nobypassrls password '${app.password}'`);
  });

  it('gives the api and migrate only variables their schemas accept', () => {
    const known = new Set(schemaKeys(envSchema));
    expect(known.has('DATABASE_URL')).toBe(true); // positive control
    expect(Object.keys(api.environment!).filter((name) => !known.has(name))).toEqual([]);
    const migrateKnown = new Set(schemaKeys(migrateEnvSchema));
    expect(Object.keys(migrate.environment!).filter((name) => !migrateKnown.has(name))).toEqual([]);
  });

  it('is an environment the API boots with once the secrets are set, and one it refuses without them', () => {
    const secrets = { ADMIN_API_KEY: 'a'.repeat(40), JWT_SECRET: 'j'.repeat(40) };
    const resolved = (vars: Record<string, string>) => Object.fromEntries(Object.entries(api.environment!).map(([name, value]) => [name, substitute(String(value), vars)]));
    const env = parseEnv(resolved(secrets));
    expect(env).toMatchObject({ NODE_ENV: 'production', HOST: '0.0.0.0', PORT: 3000, REDIS_URL: 'redis://redis:6379', S3_ENDPOINT: 'http://minio:9000' });
    expect(validateEnv(migrateEnvSchema, migrate.environment!).DATABASE_MIGRATION_URL).toMatch(/^postgres:\/\//);
    // Control: without the secrets from .env, the API stops at boot naming them.
    expect(() => parseEnv(resolved({}))).toThrow(/ADMIN_API_KEY: is required/);
    expect(() => parseEnv(resolved({ ADMIN_API_KEY: secrets.ADMIN_API_KEY }))).toThrow(/JWT_SECRET: is required in production/);
  });

  it('checks health with node against /health (no curl in the image)', () => {
    expect(api.healthcheck?.test.slice(0, 2)).toEqual(['CMD', 'node']);
    expect(api.healthcheck?.test.join(' ')).toContain('/health');
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  // Instructions, with backslash continuations joined.
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
  const stages: Array<{ name: string; base: string; instructions: typeof instructions }> = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [base, , name] = instruction.args.split(/\s+/);
      stages.push({ name, base, instructions: [] });
    } else stages[stages.length - 1]?.instructions.push(instruction);
  }
  const final = stages[stages.length - 1];
  const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#') && !line.startsWith('!'));

  it('has a build, a production-dependencies and a runtime stage on node:20 (package.json engines)', () => {
    expect(stages.map((stage) => stage.name)).toEqual(['build', 'deps', 'runtime']);
    const engines = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).engines.node as string;
    const major = engines.match(/(\d+)/)![1];
    for (const stage of stages) expect(stage.base).toMatch(new RegExp(`^node:${major}(\\.|-|$)`));
  });

  it('copies only files that exist and the build context keeps (.dockerignore), and only from earlier stages', () => {
    const problems: string[] = [];
    stages.forEach((stage, index) => {
      for (const { keyword, args } of stage.instructions.filter((i) => i.keyword === 'COPY')) {
        const parts = args.split(/\s+/);
        const from = parts.find((part) => part.startsWith('--from='))?.slice('--from='.length);
        const paths = parts.filter((part) => !part.startsWith('--'));
        const sources = paths.slice(0, -1);
        if (from) {
          if (!stages.slice(0, index).some((earlier) => earlier.name === from)) problems.push(`${keyword} --from=${from}: no earlier stage`);
          continue;
        }
        for (const source of sources) {
          if (!existsSync(path.join(ROOT, source))) problems.push(`${stage.name}: ${source} does not exist`);
          if (ignored.some((pattern) => pattern === source || pattern === source.replace(/\/$/, ''))) problems.push(`${stage.name}: ${source} is in .dockerignore`);
        }
      }
    });
    expect(problems).toEqual([]);
  });

  it('keeps secrets and local state out of the build context', () => {
    expect(ignored).toEqual(expect.arrayContaining(['.env', '.data', 'node_modules', 'dist', '.git']));
  });

  it('builds with npm ci + nest build, ships production dependencies only, and runs as a non-root user with a node HEALTHCHECK', () => {
    expect(run(stages[0])).toEqual(['npm ci', 'npx nest build']);
    expect(run(stages[1])[0]).toMatch(/^npm ci --omit=dev\b/);
    const finalKeyword = (keyword: string) => final.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
    expect(finalKeyword('USER')).toEqual(['node']);
    expect(finalKeyword('EXPOSE')).toEqual(['3000']);
    expect(finalKeyword('CMD')).toEqual(['["node", "dist/main.js"]']);
    expect(existsSync(path.join(ROOT, 'src', 'main.ts'))).toBe(true);
    const healthcheck = finalKeyword('HEALTHCHECK')[0];
    expect(healthcheck).toMatch(/CMD \["node", "-e"/);
    expect(healthcheck).toContain('/health');
    expect(healthcheck).not.toMatch(/\bcurl\b|\bwget\b/);
    // The final stage's node_modules comes from the production-only stage, never from the build stage.
    expect(final.instructions.filter((i) => i.keyword === 'COPY' && i.args.includes('node_modules'))).toEqual([
      { keyword: 'COPY', args: '--from=deps /app/node_modules ./node_modules' },
    ]);
  });

  it("resolves the production install from package.json + package-lock.json in a plain shell (npm ci --omit=dev --dry-run)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dockerfile-deps-'));
    try {
      copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
      copyFileSync(path.join(ROOT, 'package-lock.json'), path.join(dir, 'package-lock.json'));
      const deps = run(stages[1]);
      // The deps stage's command, as a dry run: npm checks that the lock file matches package.json and resolves the tree.
      const command = deps[0].split('&&')[0].trim().split(/\s+/);
      const output = execFileSync(command[0], [...command.slice(1), '--dry-run', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(output).toMatch(/added \d+ packages/);
      // Control: a lock file out of step with package.json is refused by the same command.
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      manifest.dependencies['left-pad'] = '1.3.0';
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
      expect(() => execFileSync(command[0], [...command.slice(1), '--dry-run'], { cwd: dir, stdio: 'pipe' })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function run(stage: { instructions: Array<{ keyword: string; args: string }> }): string[] {
  return stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
}
