import { withClient } from '../helpers/pg-client';
import { AttackedApp, attackFreshApp, describeProblems, IsolationReport } from '../helpers/isolation-harness';
import { DedicatedDatabase, dedicatedDatabase } from './dedicated-helpers';

/**
 * The isolation harness (every tenant route, every tenant table) with the tenants on a dedicated
 * database of the second PostgreSQL server, created by POST /tenants itself (TENANT_DATABASES with an
 * adminUrl): two tenants sharing one dedicated database (RLS and the scoped client inside it), and a
 * tenant on the shared database attacking one on the dedicated database (routing).
 */
describe.each([
  { placement: 'both tenants on one dedicated database', alpha: true, bravo: true },
  { placement: 'attacker on the shared database, victim on a dedicated one', alpha: false, bravo: true },
])('isolation harness, $placement', ({ alpha, bravo }) => {
  let dedicated: DedicatedDatabase;
  let attacked: AttackedApp;
  let report: IsolationReport;

  beforeAll(async () => {
    dedicated = dedicatedDatabase('iso');
    const placement = { database: 'big1', superuserUrl: dedicated.superuserUrl };
    attacked = await attackFreshApp(alpha ? 'dd' : 'sd', {
      env: { TENANT_DATABASES: JSON.stringify({ big1: dedicated.settings }) },
      placements: { alpha: alpha ? placement : undefined, bravo: bravo ? placement : undefined },
    });
    report = attacked.report;
  }, 120_000);
  afterAll(async () => {
    await attacked?.release();
    await dedicated?.drop();
  });

  it("the victim's rows are on the dedicated database, in every tenant table, and none on the shared one", async () => {
    const victimId = [...report.victimIds].find(([, source]) => source === 'tenants.id')![0];
    const countIn = (url: string) =>
      withClient(url, async (client) => {
        let total = 0;
        for (const table of report.tables) total += (await client.query(`select count(*)::int as n from "${table}" where tenant_id = $1`, [victimId])).rows[0].n;
        return total;
      });
    expect(await countIn(dedicated.superuserUrl)).toBeGreaterThan(report.tables.length);
    expect(await countIn(attacked.t.db.superuserUrl)).toBe(0);
    // Victim ids from every tenant table (the harness read them on the dedicated database).
    const sources = new Set([...report.victimIds.values()].map((s) => s.split('.')[0]));
    for (const table of report.tables) expect(sources).toContain(table);
  });

  it('made a 2xx positive control with own ids for every tenant route', () => {
    expect(report.routes.length).toBeGreaterThan(15);
    expect(report.noPositiveControl).toEqual([]);
    expect([...report.positiveControls.keys()].sort()).toEqual([...report.routes].sort());
  });

  it("answers another tenant's ids exactly like random ids on every tenant route, shows no victim id, changes no victim row", () => {
    expect(describeProblems(report)).toEqual([]);
    expect(report.calls).toBeGreaterThan(100);
  });
});
