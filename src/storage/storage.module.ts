import { Global, Logger, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { LocalDiskStorageDriver } from './local-disk-storage.driver';
import { S3StorageDriver } from './s3-storage.driver';
import { StorageService } from './storage.service';

/** S3 when S3_BUCKET is set, else local disk under DATA_DIR/files. */
export function createStorageService(config: AppConfig): StorageService {
  const logger = new Logger('Storage');
  const s3 = config.storage.s3;
  if (s3) {
    logger.log(`storage driver: S3 bucket ${s3.bucket}${s3.endpoint ? ` at ${s3.endpoint}` : ''}`);
    return new StorageService(new S3StorageDriver(s3));
  }
  logger.log(`storage driver: local disk under ${config.storage.localRoot}`);
  return new StorageService(new LocalDiskStorageDriver(config.storage.localRoot));
}

@Global()
@Module({
  providers: [{ provide: StorageService, inject: [AppConfig], useFactory: createStorageService }],
  exports: [StorageService],
})
export class StorageModule {}
