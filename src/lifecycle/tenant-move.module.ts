import { Module } from '@nestjs/common';
import { PlansModule } from '../plans/plans.module';
import { TenantsModule } from '../tenants/tenants.module';
import { TenantMoveController } from './tenant-move.controller';
import { TenantMoveService } from './tenant-move.service';
import { TenantMovesRepository } from './tenant-moves.repository';

/**
 * Moving a tenant between databases (issue 14). The owner connections and the directory's
 * databases come from DatabaseModule (TenantErasure, TenantDatabases); JobsService (global) when
 * the app has it: the CLI runs moves in the foreground without it.
 */
@Module({
  imports: [TenantsModule, PlansModule],
  controllers: [TenantMoveController],
  providers: [TenantMovesRepository, TenantMoveService],
  exports: [TenantMoveService],
})
export class TenantMoveModule {}
