import { Body, Controller, Delete, Get, HttpCode, Module, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { Can } from '../../../src/access/can.decorator';
import { TenantRoute } from '../../../src/access/route-access.decorator';
import { AppError } from '../../../src/common/errors/app-error';
import { ZodValidationPipe } from '../../../src/common/http/zod-validation.pipe';
import { NotesRepository } from './notes.repository';

const createNoteSchema = z.strictObject({ title: z.string().trim().min(1).max(200) });
const noteParamsSchema = z.strictObject({ id: z.uuid() });

/** Recipe step 4: a thin controller that declares who may call it. No tenancy code. */
@TenantRoute()
@Controller('recipe-notes')
export class NotesController {
  constructor(private readonly notes: NotesRepository) {}

  @Post()
  @HttpCode(201)
  @Can('documents:write')
  create(@Body(new ZodValidationPipe(createNoteSchema)) body: z.infer<typeof createNoteSchema>) {
    return this.notes.create(body.title);
  }

  @Get()
  @Can('documents:read')
  async list() {
    return { items: await this.notes.list() };
  }

  @Get(':id')
  @Can('documents:read')
  async get(@Param(new ZodValidationPipe(noteParamsSchema)) params: z.infer<typeof noteParamsSchema>) {
    const note = await this.notes.findById(params.id);
    if (!note) throw AppError.notFound('Note');
    return note;
  }

  @Delete(':id')
  @HttpCode(204)
  @Can('documents:delete-any')
  async delete(@Param(new ZodValidationPipe(noteParamsSchema)) params: z.infer<typeof noteParamsSchema>) {
    if (!(await this.notes.delete(params.id))) throw AppError.notFound('Note');
  }
}

/** Recipe step 5: the module, imported by the app (here: mounted by the test). */
@Module({ controllers: [NotesController], providers: [NotesRepository] })
export class NotesModule {}
