import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureBuilt } from '../helpers/built';
import { runNodeScript } from '../helpers/node-process';
import { withClient } from '../helpers/pg-client';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';
import { TEST_ADMIN_KEY } from '../helpers/test-env';
import { dedicatedDatabase, DedicatedDatabase } from '../scale-out/dedicated-helpers';

/**
 * `tenants move` and `tenants moves` of the built ops CLI (dist/cli/cli.js), spawned as an
 * operator would, with an explicit environment, against the run's two PostgreSQL servers.
 */
const CLI = path.join(path.resolve(__dirname, '..', '..'), 'dist', 'cli', 'cli.js');

const run = (args: string[], env: Record<string, string>, cwd: string) => runNodeScript(CLI, args, env, { cwd });

describe('ops CLI: tenants move', () => {
  let db: TestDatabase;
  let dedicated: DedicatedDatabase;
  let env: Record<string, string>;
  let cwd: string;

  beforeAll(async () => {
    await ensureBuilt();
    db = await createTestDatabase();
    dedicated = dedicatedDatabase('clim');
    env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: db.appUrl,
      DATABASE_MIGRATION_URL: db.ownerUrl,
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      TENANT_DATABASES: JSON.stringify({ big1: dedicated.settings }),
    };
    cwd = mkdtempSync(path.join(os.tmpdir(), 'move-cli-'));
  }, 300_000);

  afterAll(async () => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
    await dedicated?.drop();
    await db?.drop();
  });

  const query = <T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []) =>
    withClient(url, async (client) => (await client.query<T>(text, values)).rows);

  it('moves a tenant to a dedicated database and prints the verified report; lists it; refuses an unknown database (exit 1) and a bad name (exit 2)', async () => {
    const [{ id }] = await query<{ id: string }>(db.superuserUrl, "insert into tenants (slug, name) values ('cli-mover', 'Mover') returning id");
    await query(db.superuserUrl, "insert into documents (tenant_id, title) values ($1, 'one'), ($1, 'two')", [id]);

    const unknown = await run(['tenants', 'move', 'cli-mover', '--to', 'nowhere'], env, cwd);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Database not found/);
    const badName = await run(['tenants', 'move', 'cli-mover', '--to', 'No Where'], env, cwd);
    expect(badName.code).toBe(2);
    expect(await query(db.superuserUrl, 'select 1 from tenant_moves')).toEqual([]);

    const moved = await run(['tenants', 'move', 'cli-mover', '--to', 'big1', '--json'], env, cwd);
    expect(moved.code).toBe(0);
    const report = JSON.parse(moved.stdout);
    expect(report).toMatchObject({ tenantId: id, from: 'shared', to: 'big1', status: 'completed', step: 'cleaned', requestedBy: expect.stringMatching(/^cli:/), copied: { documents: 2 } });
    expect(report.verification.ok).toBe(true);
    expect(await query(dedicated.superuserUrl, 'select title from documents where tenant_id = $1 order by title', [id])).toEqual([{ title: 'one' }, { title: 'two' }]);
    expect(await query(db.superuserUrl, 'select 1 from documents where tenant_id = $1', [id])).toEqual([]);
    expect(await query(db.superuserUrl, 'select database from tenants where id = $1', [id])).toEqual([{ database: 'big1' }]);

    const listed = await run(['tenants', 'moves', '--json'], env, cwd);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((m: { id: string; status: string }) => [m.id, m.status])).toEqual([[report.id, 'completed']]);
    const again = await run(['tenants', 'move', 'cli-mover', '--to', 'big1'], env, cwd);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already on "big1"/);

    // move-abort: a completed move is too late (exit 1); a bad id is a usage error (exit 2).
    const late = await run(['tenants', 'move-abort', report.id], env, cwd);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/cannot be aborted; move the tenant back instead/);
    expect((await run(['tenants', 'move-abort', 'not-a-uuid'], env, cwd)).code).toBe(2);
  }, 300_000);

  it('move-abort aborts a move no process runs (the tenant stays, unpaused) and is idempotent', async () => {
    const [{ id }] = await query<{ id: string }>(db.superuserUrl, "insert into tenants (slug, name, move_state) values ('cli-aborted', 'Aborted', 'paused') returning id");
    const [move] = await query<{ id: string }>(
      db.superuserUrl,
      "insert into tenant_moves (moved_tenant_id, tenant_slug, from_database, to_database, step, requested_by) values ($1, 'cli-aborted', 'shared', 'big1', 'paused', 'test') returning id",
      [id],
    );
    const aborted = await run(['tenants', 'move-abort', move.id, '--json'], env, cwd);
    expect(aborted.code).toBe(0);
    expect(JSON.parse(aborted.stdout)).toMatchObject({ id: move.id, status: 'aborted', step: 'paused', abortedBy: expect.stringMatching(/^cli:/) });
    expect(await query(db.superuserUrl, 'select database, move_state from tenants where id = $1', [id])).toEqual([{ database: 'shared', move_state: null }]);
    const again = await run(['tenants', 'move-abort', move.id], env, cwd);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/: aborted after step paused/);
  }, 300_000);
});
