import { randomBytes } from 'node:crypto';
import { TenantDatabaseSettings } from '../../src/config/env.schema';
import { dropDatabase, withCredentials, withDatabase } from '../../src/database/provisioning';
import { APP_ROLE, OWNER_ROLE } from '../../src/database/schema/roles';
import { TEST_ROLE_PASSWORDS } from '../helpers/test-env';

/** A dedicated database's registration on the suite's second PostgreSQL server, not created yet (provisioning creates it). */
export interface DedicatedDatabase {
  settings: TenantDatabaseSettings;
  /** Superuser on the database itself: test reads only (it bypasses RLS). */
  superuserUrl: string;
  drop(): Promise<void>;
}

export function dedicatedDatabase(label: string): DedicatedDatabase {
  // The second server (global setup): another cluster on another port.
  const server = process.env.TEST_PG2_SUPERUSER_URL;
  if (!server) throw new Error('Run tests through jest (npm test): global setup provisions the second PostgreSQL');
  // tt_<run id>_...: the run's teardown drops what a failed file leaves.
  const name = `tt_${process.env.TEST_RUN_ID}_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const url = withDatabase(server, name);
  return {
    settings: {
      url: withCredentials(url, APP_ROLE, TEST_ROLE_PASSWORDS.app),
      migrationUrl: withCredentials(url, OWNER_ROLE, TEST_ROLE_PASSWORDS.owner),
      adminUrl: server,
    },
    superuserUrl: url,
    drop: () => dropDatabase(server, name),
  };
}
