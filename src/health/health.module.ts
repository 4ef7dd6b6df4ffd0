import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { ReadinessService } from './readiness.service';
import { ShutdownGate } from './shutdown-gate';

@Module({
  // logger false: terminus would log every failed check as a multi-line JSON dump; ReadinessService logs one line.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [ReadinessService, ShutdownGate],
  exports: [ShutdownGate],
})
export class HealthModule {}
