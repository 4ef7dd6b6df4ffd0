import { Injectable } from '@nestjs/common';
import { asc, eq } from 'drizzle-orm';
import { PlanRow, plans } from '../database/schema';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';
import { SystemDb } from '../database/system-db';
import type { Feature, Limits } from '../tenancy/entitlements';

export interface PlanFields {
  name: string;
  features: Feature[];
  limits: Limits;
}

/** Platform table: every query is a named system operation. */
@Injectable()
export class PlansRepository {
  constructor(private readonly systemDb: SystemDb) {}

  @GenerateSql()
  list(): Promise<PlanRow[]> {
    return this.systemDb.run('plans.list', (db) => db.select().from(plans).orderBy(asc(plans.id)));
  }

  @GenerateSql({ params: [DummyValue.STRING] })
  findById(id: string): Promise<PlanRow | undefined> {
    return this.systemDb.run('plans.findById', async (db) => {
      const [row] = await db.select().from(plans).where(eq(plans.id, id)).limit(1);
      return row;
    });
  }

  /** Creates the plan or replaces its definition; `created` tells which. */
  @GenerateSql({ params: [DummyValue.STRING, { name: DummyValue.STRING, features: ['attachments'], limits: { documents: 100 } }] })
  upsert(id: string, fields: PlanFields): Promise<{ row: PlanRow; created: boolean }> {
    return this.systemDb.run('plans.upsert', async (db) => {
      const [row] = await db
        .insert(plans)
        .values({ id, ...fields })
        .onConflictDoUpdate({ target: plans.id, set: { ...fields, updatedAt: new Date() } })
        .returning();
      // A fresh row's two timestamps are the same statement's now(); an update moves updated_at on.
      return { row, created: row.createdAt.getTime() === row.updatedAt.getTime() };
    });
  }
}
