import { Global, Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AppConfig } from '../config/app-config';
import { MembersModule } from '../members/members.module';
import { RequestAuthenticator } from '../tenancy/request-authenticator';
import { UsersModule } from '../users/users.module';
import { AccessTokenService } from './access-token.service';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { CredentialAuthenticator } from './credential-authenticator.service';
import { InMemoryLoginThrottle, LoginThrottle } from './login-throttle';
import { MeController } from './me.controller';

/**
 * Authentication (sessions, API keys) and authorization (the role matrix).
 * Global because the tenancy core's AccessGuard needs its RequestAuthenticator.
 */
@Global()
@Module({
  imports: [UsersModule, MembersModule, ApiKeysModule],
  controllers: [AuthController, MeController],
  providers: [
    AccessTokenService,
    AuthService,
    CredentialAuthenticator,
    { provide: RequestAuthenticator, useExisting: CredentialAuthenticator },
    { provide: LoginThrottle, inject: [AppConfig], useFactory: (config: AppConfig) => new InMemoryLoginThrottle(config.auth.loginThrottle) },
  ],
  exports: [RequestAuthenticator, AccessTokenService],
})
export class AuthModule {}
