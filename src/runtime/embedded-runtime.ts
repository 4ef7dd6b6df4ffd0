import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres } from './embedded-postgres';
import { Logger } from '@nestjs/common';
import { embeddedEnvSchema } from '../config/env.schema';
import {
  createDatabase,
  databaseExists,
  ensureRoles,
  runMigrations,
  withCredentials,
} from '../database/provisioning';
import { APP_ROLE, OWNER_ROLE } from '../database/schema/roles';

/**
 * "No services needed" mode: with DATABASE_URL unset, start an embedded
 * PostgreSQL (the embedded-postgres package) in DATA_DIR, create the two roles and
 * the database, apply migrations as the owner, and hand the API a URL for the
 * runtime role. Secrets are generated on first start and kept in
 * DATA_DIR/secrets.json (mode 0600); the admin key is printed that one time
 * (the JWT signing key never is).
 */

interface EmbeddedSecrets {
  superuserPassword: string;
  ownerPassword: string;
  appPassword: string;
  adminApiKey: string;
  /** HS256 key for access tokens; added to an older secrets.json on its next start. */
  jwtSecret?: string;
}

export interface Runtime {
  env: Record<string, string | undefined>;
  stop(): Promise<void>;
}

const DATABASE_NAME = 'app';
const secret = () => randomBytes(24).toString('base64url');

export async function prepareRuntime(source: Record<string, string | undefined>): Promise<Runtime> {
  const bootstrap = embeddedEnvSchema.parse(source);
  if (bootstrap.DATABASE_URL) return { env: source, stop: async () => undefined };

  const logger = new Logger('Embedded');
  const dataDir = path.resolve(bootstrap.DATA_DIR);
  const pgDir = path.join(dataDir, 'postgres');
  const secretsFile = path.join(dataDir, 'secrets.json');
  mkdirSync(dataDir, { recursive: true });
  // As root, PostgreSQL runs as a "postgres" OS user that must be able to reach its data dir.
  if (process.getuid?.() === 0) chmodSync(dataDir, 0o755);

  let secrets: EmbeddedSecrets;
  let firstStart = false;
  if (existsSync(secretsFile)) {
    secrets = JSON.parse(readFileSync(secretsFile, 'utf8'));
    if (!secrets.jwtSecret) {
      secrets.jwtSecret = randomBytes(32).toString('base64url');
      writeFileSync(secretsFile, JSON.stringify(secrets, null, 2), { mode: 0o600 });
    }
  } else {
    firstStart = true;
    secrets = {
      superuserPassword: secret(),
      ownerPassword: secret(),
      appPassword: secret(),
      adminApiKey: `adm_${secret()}`,
      jwtSecret: randomBytes(32).toString('base64url'),
    };
    writeFileSync(secretsFile, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }

  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) logger.log(`initialising embedded PostgreSQL in ${pgDir}`);
  const postgres = await startEmbeddedPostgres({
    dataDir: pgDir,
    port: bootstrap.EMBEDDED_PG_PORT,
    password: secrets.superuserPassword,
    onError: (message) => logger.debug(String(message)),
    // main.ts stops it, last, after the app has drained and closed (README "Shutdown").
    callerHandlesSignals: true,
  });

  const { superuserUrl } = postgres;
  await ensureRoles(superuserUrl, { owner: secrets.ownerPassword, app: secrets.appPassword });
  if (!(await databaseExists(superuserUrl, DATABASE_NAME))) await createDatabase(superuserUrl, DATABASE_NAME);
  const databaseUrl = `postgres://127.0.0.1:${bootstrap.EMBEDDED_PG_PORT}/${DATABASE_NAME}`;
  const ownerUrl = withCredentials(databaseUrl, OWNER_ROLE, secrets.ownerPassword);
  await runMigrations(ownerUrl);
  logger.log(`embedded PostgreSQL ready on 127.0.0.1:${bootstrap.EMBEDDED_PG_PORT}, migrations applied`);

  const adminApiKey = bootstrap.ADMIN_API_KEY ?? secrets.adminApiKey;
  if (firstStart && !bootstrap.ADMIN_API_KEY) {
    // Printed once, on the start that generated it; it stays in secrets.json.
    process.stdout.write(
      `\n  Platform admin key (generated, shown once; also in ${path.relative(process.cwd(), secretsFile)}):\n  ${adminApiKey}\n\n`,
    );
  }

  return {
    env: {
      ...source,
      DATABASE_URL: withCredentials(databaseUrl, APP_ROLE, secrets.appPassword),
      DATABASE_MIGRATION_URL: ownerUrl,
      ADMIN_API_KEY: adminApiKey,
      // Kept in secrets.json so sessions survive a restart; never printed.
      JWT_SECRET: bootstrap.JWT_SECRET ?? secrets.jwtSecret,
    },
    stop: async () => {
      await postgres.stop();
      logger.log('embedded PostgreSQL stopped');
    },
  };
}
