import { Global, Module } from '@nestjs/common';
import { RequestUsage } from './request-usage';
import { UsageExportController, UsageController } from './usage.controller';
import { UsageExportRepository } from './usage-export.repository';
import { UsageLedger } from './usage-ledger.service';
import { UsageRepository } from './usage.repository';
import { UsageService } from './usage.service';

/**
 * The usage ledger and quotas (README "Plans, quotas and usage"). Global: every
 * feature that creates or removes a counted thing records it through UsageLedger.
 */
@Global()
@Module({
  controllers: [UsageController, UsageExportController],
  providers: [UsageRepository, UsageExportRepository, UsageLedger, UsageService, RequestUsage],
  exports: [UsageLedger, UsageService, RequestUsage],
})
export class UsageModule {}
