import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { MembersModule } from '../members/members.module';
import { UsersModule } from '../users/users.module';
import { AccessTokenService } from './access-token.service';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { InMemoryLoginThrottle, LoginThrottle } from './login-throttle';
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
    { provide: LoginThrottle, inject: [AppConfig], useFactory: (config: AppConfig) => new InMemoryLoginThrottle(config.auth.loginThrottle) },
  ],
  exports: [AccessTokenService],
})
export class AuthModule {}
