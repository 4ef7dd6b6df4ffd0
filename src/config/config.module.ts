import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AppConfig } from './app-config';
import { Env, parseEnv } from './env.schema';

/**
 * Validates the environment once, at module construction, and exposes the typed
 * AppConfig. Tests pass their own environment instead of mutating process.env.
 */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(source: Record<string, string | undefined> = process.env): DynamicModule {
    let parsed: Env | undefined;
    return {
      module: AppConfigModule,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          skipProcessEnv: true,
          validate: () => (parsed = parseEnv(source)),
        }),
      ],
      providers: [{ provide: AppConfig, useFactory: () => new AppConfig(parsed ?? parseEnv(source)) }],
      exports: [AppConfig],
    };
  }
}
