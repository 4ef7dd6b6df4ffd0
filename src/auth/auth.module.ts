import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { MembersModule } from '../members/members.module';
import { UsersModule } from '../users/users.module';
import { AccessTokenService } from './access-token.service';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { RateCounters } from '../rate-limits/rate-counters';
import { RequestRateLimiter } from '../rate-limits/request-rate-limiter';
import { LoginThrottle } from './login-throttle';
import { SharedLoginThrottle } from './shared-login-throttle';
import { MeController } from './me.controller';

/**
 * Sessions: sign-in, invitation acceptance, tenant switching, and the access
 * tokens they issue. Admission (src/admission) verifies those tokens with the
 * exported AccessTokenService.
 */
@Module({
  imports: [UsersModule, MembersModule],
  controllers: [AuthController, MeController],
  providers: [
    AccessTokenService,
    AuthService,
    {
      // Counted in Redis when it is configured and answering (shared by every instance), else in process.
      provide: LoginThrottle,
      inject: [AppConfig, RateCounters, RequestRateLimiter],
      useFactory: (config: AppConfig, counters: RateCounters, limiter: RequestRateLimiter) =>
        new SharedLoginThrottle(counters, config.auth.loginThrottle, (store) => limiter.noteRejected('sign_in', store)),
    },
  ],
  exports: [AccessTokenService],
})
export class AuthModule {}
