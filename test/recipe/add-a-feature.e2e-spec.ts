import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import * as schema from '../../src/database/schema';
import { renderCompanion } from '../../src/database/tenant-migrations';
import { AttackedApp, attackFreshApp, describeProblems } from '../helpers/isolation-harness';
import { TestApp } from '../helpers/test-app';
import { NotesModule } from './notes/notes.controller';
import { recipeNotes } from './notes/notes.table';

/**
 * Proof of the README recipe "Add a tenant-scoped feature": a feature written
 * the recipe's way (test/recipe/notes: a tenantTable, a repository on TenantDb,
 * a controller with @TenantRoute/@Can, a module), with no tenancy code of its
 * own, is migrated the way `npm run db:generate` would, mounted beside the
 * application, and then found and attacked by the isolation harness without
 * anyone telling the harness about it.
 */
describe('recipe: add a tenant-scoped feature', () => {
  let attacked: AttackedApp;
  const FEATURE_DIR = path.join(__dirname, 'notes');

  /** The migration drizzle-kit generates for the new table, plus the companion `npm run db:generate` writes. */
  async function migrateNotesTable(t: TestApp): Promise<void> {
    const before = generateDrizzleJson(schema as Record<string, unknown>);
    const after = generateDrizzleJson({ ...schema, recipeNotes } as Record<string, unknown>);
    const statements = [...(await generateMigration(before, after)), ...renderCompanion('recipe_notes').split('--> statement-breakpoint')];
    const owner = new pg.Client({ connectionString: t.db.ownerUrl });
    await owner.connect();
    try {
      for (const statement of statements) await owner.query(statement);
    } finally {
      await owner.end();
    }
  }

  beforeAll(async () => {
    attacked = await attackFreshApp('recipe', {
      imports: [NotesModule],
      // No seeding line for notes: the harness creates rows through POST /recipe-notes by itself.
      prepare: migrateNotesTable,
    });
  });
  afterAll(() => attacked?.release());

  it('the feature code holds no tenancy code', () => {
    // The table declaration names tenant_id where it should: its tenant-led index. Code does not.
    const files = readdirSync(FEATURE_DIR).filter((name) => name.endsWith('.ts') && name !== 'notes.table.ts');
    expect(files).toEqual(expect.arrayContaining(['notes.repository.ts', 'notes.controller.ts']));
    const TENANCY_CODE = /tenantId|tenant_id|TenantContext|set_config|SystemDb|x-tenant-id/;
    expect(TENANCY_CODE.test("where(eq(t.tenantId, id))")).toBe(true); // positive control for the pattern
    expect(files.filter((name) => TENANCY_CODE.test(readFileSync(path.join(FEATURE_DIR, name), 'utf8')))).toEqual([]);
  });

  it('the harness found the new routes and the new table by itself', () => {
    expect(attacked.report.routes).toEqual(
      expect.arrayContaining(['POST /recipe-notes', 'GET /recipe-notes', 'GET /recipe-notes/:id', 'DELETE /recipe-notes/:id']),
    );
    expect(attacked.report.tables).toContain('recipe_notes');
    expect([...attacked.report.victimIds.values()]).toContain('recipe_notes.id');
  });

  it("the new routes answer another tenant's ids like random ids, and no route shows a victim row", () => {
    expect(attacked.report.noPositiveControl).toEqual([]);
    expect(describeProblems(attacked.report)).toEqual([]);
  });

  it('the new table got forced RLS, its policy, the composite key and the runtime grants', async () => {
    const client = new pg.Client({ connectionString: attacked.t.db.superuserUrl });
    await client.connect();
    try {
      const { rows: [table] } = await client.query(
        `select relrowsecurity, relforcerowsecurity,
                has_table_privilege('app_user', oid, 'SELECT,INSERT,UPDATE,DELETE') as granted,
                has_table_privilege('app_user', oid, 'TRUNCATE') as truncate
           from pg_class where oid = 'public.recipe_notes'::regclass`,
      );
      expect(table).toEqual({ relrowsecurity: true, relforcerowsecurity: true, granted: true, truncate: false });
      const { rows: policies } = await client.query(`select policyname, cmd from pg_policies where tablename = 'recipe_notes'`);
      expect(policies).toEqual([{ policyname: 'recipe_notes_tenant_isolation', cmd: 'ALL' }]);
      const { rows: keys } = await client.query(
        `select conname, pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'public.recipe_notes'::regclass and contype in ('p', 'f', 'u') order by conname`,
      );
      expect(keys).toEqual([
        { conname: 'recipe_notes_pkey', def: 'PRIMARY KEY (tenant_id, id)' },
        { conname: 'recipe_notes_tenant_fk', def: 'FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE' },
      ]);
    } finally {
      await client.end();
    }
  });
});

