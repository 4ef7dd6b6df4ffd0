import { Injectable } from '@nestjs/common';
import { desc, eq } from 'drizzle-orm';
import { TenantDb } from '../../../src/database/tenant-db';
import { recipeNotes } from './notes.table';

/** Recipe step 3: queries through TenantDb only. No tenant id anywhere in this file. */
@Injectable()
export class NotesRepository {
  constructor(private readonly db: TenantDb) {}

  async create(title: string) {
    const [row] = await this.db.insert(recipeNotes).values({ title }).returning();
    return row;
  }

  async findById(id: string) {
    const [row] = await this.db.select().from(recipeNotes).where(eq(recipeNotes.id, id)).limit(1);
    return row;
  }

  async list() {
    return await this.db.select().from(recipeNotes).orderBy(desc(recipeNotes.createdAt), desc(recipeNotes.id)).limit(50);
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.db.delete(recipeNotes).where(eq(recipeNotes.id, id)).returning({ id: recipeNotes.id });
    return deleted.length > 0;
  }
}
