import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  companionTableOf,
  planCompanions,
  readMigrations,
  renderCompanion,
  type MigrationFile,
} from '../../src/database/tenant-migrations';

/** The pure half of npm run db:generate / db:verify: reading FORCE and grants back from SQL, deciding, rendering. */
describe('tenant table companion migrations', () => {
  const FULL = ['DELETE', 'INSERT', 'SELECT', 'UPDATE'];

  describe('readMigrations', () => {
    it('reads FORCE statements, quoted, qualified or not, in any case (positive control)', () => {
      const state = readMigrations([
        'ALTER TABLE "documents" FORCE ROW LEVEL SECURITY;--> statement-breakpoint\nalter table public.comments force row level security;',
        'ALTER TABLE IF EXISTS ONLY "public"."notes" FORCE ROW LEVEL SECURITY',
      ]);
      expect([...state.forced].sort()).toEqual(['comments', 'documents', 'notes']);
    });

    it('ignores FORCE in comments and ENABLE, and applies NO FORCE, RENAME and DROP in order', () => {
      const state = readMigrations([
        '-- ALTER TABLE "a" FORCE ROW LEVEL SECURITY;\nALTER TABLE "b" ENABLE ROW LEVEL SECURITY;\n/* ALTER TABLE "c" FORCE ROW LEVEL SECURITY; */',
        'ALTER TABLE "d" FORCE ROW LEVEL SECURITY; ALTER TABLE "e" FORCE ROW LEVEL SECURITY; ALTER TABLE "f" FORCE ROW LEVEL SECURITY;',
        'ALTER TABLE "d" NO FORCE ROW LEVEL SECURITY; ALTER TABLE "e" RENAME TO "e2"; DROP TABLE "f" CASCADE;',
      ]);
      expect([...state.forced].sort()).toEqual(['e2']);
    });

    it('collects the runtime role\'s grants from multi-table GRANTs, minus REVOKEs, and not other roles\'', () => {
      const state = readMigrations([
        'GRANT SELECT, INSERT, UPDATE ON "tenants", "users" TO "app_user";',
        'GRANT SELECT, INSERT, UPDATE, DELETE ON "documents", "comments" TO "app_user";',
        'GRANT ALL ON "comments" TO app_user; REVOKE TRUNCATE, REFERENCES, TRIGGER, MAINTAIN ON "comments" FROM "app_user";',
        'GRANT ALL ON "documents" TO "someone_else"; REVOKE ALL ON "documents" FROM PUBLIC;',
        'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO "app_user";',
      ]);
      expect([...state.granted.get('users')!].sort()).toEqual(['INSERT', 'SELECT', 'UPDATE']);
      expect([...state.granted.get('documents')!].sort()).toEqual(FULL);
      expect([...state.granted.get('comments')!].sort()).toEqual(FULL);
      expect([...state.granted.keys()].sort()).toEqual(['comments', 'documents', 'tenants', 'users']);
    });

    it('reads column privileges as their own entries, never as the table-wide privilege, and a table-wide REVOKE takes them along', () => {
      const state = readMigrations([
        'GRANT SELECT, INSERT ON "users" TO "app_user"; REVOKE SELECT ON "users" FROM "app_user";',
        'GRANT SELECT ("id", Email), UPDATE (name) ON "users" TO "app_user"; GRANT SELECT ("id") ON "notes" TO "app_user";',
        'GRANT SELECT, UPDATE ("x") ON "comments" TO "app_user"; REVOKE UPDATE ON "comments" FROM "app_user";',
      ]);
      expect([...state.granted.get('users')!].sort()).toEqual(['INSERT', 'SELECT (id, email)', 'UPDATE (name)']);
      expect([...state.granted.get('notes')!]).toEqual(['SELECT (id)']);
      expect([...state.granted.get('comments')!]).toEqual(['SELECT']);
    });

    it('reads the committed migrations: every tenant table forced with full data rights, the usage ledger append-only (positive control on real files)', () => {
      const folder = path.resolve(__dirname, '..', '..', 'drizzle');
      const journal = JSON.parse(readFileSync(path.join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> };
      const state = readMigrations(journal.entries.map((e) => readFileSync(path.join(folder, `${e.tag}.sql`), 'utf8')));
      expect([...state.forced].sort()).toEqual(['api_keys', 'attachments', 'comments', 'document_embeddings', 'documents', 'exports', 'invitations', 'jobs', 'memberships', 'usage_counters', 'usage_events']);
      for (const table of state.forced) {
        expect([...state.granted.get(table)!].sort()).toEqual(table === 'usage_events' ? ['INSERT', 'SELECT'] : FULL);
      }
      expect([...state.granted.get('tenants')!].sort()).toEqual(['INSERT', 'SELECT', 'UPDATE']);
      // users: password_hash is not among the readable columns (drizzle/0006_users_password_hash_private.sql).
      expect([...state.granted.get('users')!].sort()).toEqual(['INSERT', 'SELECT (id, email, name, created_at, updated_at)']);
    });
  });

  describe('renderCompanion', () => {
    it('is a comment then exactly FORCE and the grant, with a breakpoint between and a final newline', () => {
      const sql = renderCompanion('notes');
      const lines = sql.split('\n');
      expect(lines.filter((l) => l.startsWith('--') && !l.startsWith('-->'))).toHaveLength(5);
      expect(lines.filter((l) => !l.startsWith('-- '))).toEqual([
        'ALTER TABLE "notes" FORCE ROW LEVEL SECURITY;--> statement-breakpoint',
        'GRANT SELECT, INSERT, UPDATE, DELETE ON "notes" TO "app_user";',
        '',
      ]);
    });

    it('reads back as forced with full data rights (round trip)', () => {
      const state = readMigrations([renderCompanion('notes')]);
      expect([...state.forced]).toEqual(['notes']);
      expect([...state.granted.get('notes')!].sort()).toEqual(FULL);
    });

    it('grants an append-only table SELECT and INSERT only', () => {
      const state = readMigrations([renderCompanion('ledger', 'append-only')]);
      expect([...state.forced]).toEqual(['ledger']);
      expect([...state.granted.get('ledger')!].sort()).toEqual(['INSERT', 'SELECT']);
    });
  });

  describe('planCompanions with an append-only table', () => {
    const file = (name: string, sql: string): MigrationFile => ({ name, sql });
    const appendOnly = (table: string) => (table === 'ledger' ? 'append-only' : 'read-write');

    it('accepts exactly SELECT, INSERT for it, and refuses full rights (positive control beside the negative)', () => {
      const ok = planCompanions(['ledger'], [file('0003_ledger_force_rls_and_grants.sql', renderCompanion('ledger', 'append-only'))], appendOnly);
      expect(ok).toEqual({ missing: [], problems: [] });
      const full = planCompanions(['ledger'], [file('0003_x.sql', 'ALTER TABLE "ledger" FORCE ROW LEVEL SECURITY;\nGRANT SELECT, INSERT, UPDATE, DELETE ON "ledger" TO "app_user";')], appendOnly);
      expect(full.problems).toEqual([expect.stringContaining('tenant table "ledger": the migrations grant "app_user" [DELETE, INSERT, SELECT, UPDATE], expected [INSERT, SELECT]')]);
    });
  });

  describe('planCompanions', () => {
    const file = (name: string, sql: string): MigrationFile => ({ name, sql });
    const create = (t: string) => `CREATE TABLE "${t}" ("tenant_id" uuid NOT NULL);\nALTER TABLE "${t}" ENABLE ROW LEVEL SECURITY;`;

    it('asks for a companion for a tenant table without FORCE only (positive control beside the negative)', () => {
      const plan = planCompanions(['documents', 'notes'], [
        file('0000_init.sql', create('documents')),
        file('0001_force.sql', 'ALTER TABLE "documents" FORCE ROW LEVEL SECURITY;\nGRANT SELECT, INSERT, UPDATE, DELETE ON "documents" TO "app_user";'),
        file('0002_notes.sql', create('notes')),
      ]);
      expect(plan).toEqual({ missing: ['notes'], problems: [] });
    });

    it('asks for nothing once the companion exists (idempotent)', () => {
      const plan = planCompanions(['notes'], [file('0002_notes.sql', create('notes')), file('0003_notes_force_rls_and_grants.sql', renderCompanion('notes'))]);
      expect(plan).toEqual({ missing: [], problems: [] });
    });

    it('reports a forced tenant table whose grants are not exactly the data rights', () => {
      const plan = planCompanions(['notes', 'tags'], [
        file('0001_x.sql', 'ALTER TABLE "notes" FORCE ROW LEVEL SECURITY; GRANT SELECT ON "notes" TO "app_user";'),
        file('0002_y.sql', 'ALTER TABLE "tags" FORCE ROW LEVEL SECURITY; GRANT ALL ON "tags" TO "app_user";'),
      ]);
      expect(plan.missing).toEqual([]);
      expect(plan.problems).toEqual([
        'tenant table "notes": the migrations grant "app_user" [SELECT], expected [DELETE, INSERT, SELECT, UPDATE]',
        'tenant table "tags": the migrations grant "app_user" [DELETE, INSERT, MAINTAIN, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE], expected [DELETE, INSERT, SELECT, UPDATE]',
      ]);
    });

    it('reports a tenant table whose SELECT is granted on some columns only (not the table-wide privilege)', () => {
      const plan = planCompanions(['notes'], [
        file('0001_x.sql', 'ALTER TABLE "notes" FORCE ROW LEVEL SECURITY; GRANT SELECT ("id"), INSERT, UPDATE, DELETE ON "notes" TO "app_user";'),
      ]);
      expect(plan.problems).toEqual([
        'tenant table "notes": the migrations grant "app_user" [DELETE, INSERT, SELECT (id), UPDATE], expected [DELETE, INSERT, SELECT, UPDATE]',
      ]);
    });

    it('reports a generated companion edited by hand, but not a comment-only change', () => {
      const edited = renderCompanion('notes').replace('GRANT SELECT, INSERT, UPDATE, DELETE', 'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE');
      const recommented = renderCompanion('notes').replace('Do not edit', 'Please do not edit');
      expect(planCompanions(['notes'], [file('0003_notes_force_rls_and_grants.sql', edited)]).problems).toEqual([
        'tenant table "notes": the migrations grant "app_user" [DELETE, INSERT, SELECT, TRUNCATE, UPDATE], expected [DELETE, INSERT, SELECT, UPDATE]',
        '0003_notes_force_rls_and_grants.sql: its statements differ from what db:generate writes for "notes" (edited by hand?)',
      ]);
      expect(planCompanions(['notes'], [file('0003_notes_force_rls_and_grants.sql', recommented)]).problems).toEqual([]);
    });

    it('reports the companion of a table no longer declared with tenantTable(), unless a later migration dropped it', () => {
      const companion = file('0003_notes_force_rls_and_grants.sql', renderCompanion('notes'));
      expect(planCompanions([], [companion]).problems).toEqual([
        '0003_notes_force_rls_and_grants.sql: companion of "notes", which is no longer declared with tenantTable()',
      ]);
      expect(planCompanions([], [companion, file('0004_drop.sql', 'DROP TABLE "notes" CASCADE;')]).problems).toEqual([]);
    });

    it('does not compare hand-written migrations that happen to carry the name (0003_invitations_...) against the template', () => {
      const handWritten = 'ALTER TABLE "invitations" FORCE ROW LEVEL SECURITY;\nREVOKE ALL ON "invitations" FROM PUBLIC;\nGRANT SELECT, INSERT, UPDATE, DELETE ON "invitations" TO "app_user";';
      expect(planCompanions(['invitations'], [file('0003_invitations_force_rls_and_grants.sql', handWritten)])).toEqual({ missing: [], problems: [] });
    });
  });

  it('companionTableOf reads the table from a companion file name only', () => {
    expect(companionTableOf('0007_notes_force_rls_and_grants.sql')).toBe('notes');
    expect(companionTableOf('0007_api_keys_force_rls_and_grants.sql')).toBe('api_keys');
    expect(companionTableOf('0001_force_rls_and_grants.sql')).toBeUndefined();
    expect(companionTableOf('0002_invitations.sql')).toBeUndefined();
  });
});
