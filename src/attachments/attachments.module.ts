import { Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AttachmentsController } from './attachments.controller';
import { AttachmentsRepository } from './attachments.repository';
import { AttachmentsService } from './attachments.service';
import { enableStreamedUploads } from './streamed-upload';

@Module({
  controllers: [AttachmentsController],
  providers: [AttachmentsRepository, AttachmentsService],
})
export class AttachmentsModule implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** Runs before the server is ready (createApp awaits init, then Fastify's ready()). */
  onModuleInit(): void {
    enableStreamedUploads(this.adapterHost.httpAdapter?.getInstance());
  }
}
