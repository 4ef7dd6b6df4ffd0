import { Module } from '@nestjs/common';
import { TenantDeletionResumer } from './tenant-deletion-resumer';
import { TenantOffboardingModule } from './tenant-offboarding.module';

/**
 * The resumer of background tenant deletions (README "Offboarding"): imported by AppModule only, so
 * the CLI's context (which imports TenantOffboardingModule to run deletions in the foreground)
 * never sweeps.
 */
@Module({
  imports: [TenantOffboardingModule],
  providers: [TenantDeletionResumer],
  exports: [TenantDeletionResumer],
})
export class TenantDeletionResumerModule {}
