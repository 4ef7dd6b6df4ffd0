import { Module } from '@nestjs/common';
import { AccessCache } from './access-cache';

/** One AccessCache per application: admission reads it, the members and API keys features forget what they change. */
@Module({
  providers: [AccessCache],
  exports: [AccessCache],
})
export class AccessModule {}
