import { Module } from '@nestjs/common';
import { CommentsRepository } from './comments.repository';
import { DocumentsController } from './documents.controller';
import { DocumentsRepository } from './documents.repository';
import { DocumentsService } from './documents.service';

@Module({
  controllers: [DocumentsController],
  providers: [DocumentsRepository, CommentsRepository, DocumentsService],
})
export class DocumentsModule {}
