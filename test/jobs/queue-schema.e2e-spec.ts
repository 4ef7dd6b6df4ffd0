import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { APP_ROLE, OWNER_ROLE } from '../../src/database/schema/roles';
import { pgBossConstructionSql } from '../helpers/pg-boss-plan';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';

const MIGRATION = path.resolve(__dirname, '../../drizzle/0020_job_queue.sql');

/**
 * The job queue's schema: pg-boss's own DDL, installed by the owner role through the
 * committed migration, and a runtime role that can use the queue but owns nothing
 * there and can change no structure.
 */
describe('job queue schema (pgboss)', () => {
  it("is pg-boss's construction plan for the installed version, verbatim", () => {
    const migration = readFileSync(MIGRATION, 'utf8');
    const body = migration.slice(migration.indexOf('-- >>> pg-boss construction plan\n') + '-- >>> pg-boss construction plan\n'.length, migration.indexOf('-- <<< pg-boss construction plan'));
    expect(body.trim()).toBe(pgBossConstructionSql());
    // Positive control: the plan names the schema version the migration records.
    expect(pgBossConstructionSql()).toMatch(/INSERT INTO pgboss\.version\(version\) VALUES \('24'\)/);
  });

  describe('on a migrated database', () => {
    let db: TestDatabase;
    let superuser: pg.Client;
    let app: pg.Client;

    beforeAll(async () => {
      db = await createTestDatabase();
      superuser = new pg.Client({ connectionString: db.superuserUrl });
      app = new pg.Client({ connectionString: db.appUrl });
      await superuser.connect();
      await app.connect();
    });
    afterAll(async () => {
      await superuser?.end();
      await app?.end();
      await db?.drop();
    });

    it('is owned by the owner role, with the one tenant-jobs queue', async () => {
      const { rows: owners } = await superuser.query(
        `select distinct pg_get_userbyid(relowner) as owner from pg_class where relnamespace = 'pgboss'::regnamespace
         union select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'pgboss'`,
      );
      expect(owners).toEqual([{ owner: OWNER_ROLE }]);
      const { rows: queues } = await superuser.query('select name, policy from pgboss.queue');
      expect(queues).toEqual([{ name: 'tenant-jobs', policy: 'standard' }]);
    });

    it('gives the runtime role data access to what the queue uses, and nothing else', async () => {
      const { rows } = await superuser.query(
        `select c.relname as table, array_agg(acl.privilege_type order by acl.privilege_type) as privileges
           from pg_class c, aclexplode(c.relacl) acl
          where c.relnamespace = 'pgboss'::regnamespace and acl.grantee = (select oid from pg_roles where rolname = $1)
          group by c.relname order by c.relname`,
        [APP_ROLE],
      );
      expect(rows).toEqual([
        { table: 'archive', privileges: ['DELETE', 'INSERT', 'SELECT', 'UPDATE'] },
        { table: 'job', privileges: ['DELETE', 'INSERT', 'SELECT', 'UPDATE'] },
        { table: 'queue', privileges: ['SELECT'] },
        { table: 'version', privileges: ['SELECT', 'UPDATE'] },
      ]);
      const { rows: rights } = await superuser.query(
        `select has_schema_privilege($1, 'pgboss', 'CREATE') as create_in_schema,
                has_schema_privilege($1, 'pgboss', 'USAGE') as usage,
                has_function_privilege($1, 'pgboss.create_queue(text, json)', 'EXECUTE') as create_queue,
                has_function_privilege($1, 'pgboss.delete_queue(text)', 'EXECUTE') as delete_queue`,
        [APP_ROLE],
      );
      expect(rights[0]).toEqual({ create_in_schema: false, usage: true, create_queue: false, delete_queue: false });
    });

    it('lets the runtime role queue and take a job, but not create a queue or a table', async () => {
      // Positive control: what the API does.
      const { rows } = await app.query(
        `insert into pgboss.job (name, data) values ('tenant-jobs', '{"probe": true}') returning id`,
      );
      const { rows: taken } = await app.query(`update pgboss.job set state = 'active', started_on = now() where name = 'tenant-jobs' and id = $1 returning id`, [rows[0].id]);
      expect(taken).toHaveLength(1);
      await expect(app.query(`select pgboss.create_queue('other', '{}'::json)`)).rejects.toMatchObject({ code: '42501' });
      await expect(app.query('create table pgboss.mine (id int)')).rejects.toMatchObject({ code: '42501' });
      await expect(app.query('truncate pgboss.job')).rejects.toMatchObject({ code: '42501' });
      await expect(app.query('select * from pgboss.schedule')).rejects.toMatchObject({ code: '42501' });
    });
  });
});
