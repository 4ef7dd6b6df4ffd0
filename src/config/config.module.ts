import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AppConfig } from './app-config';
import { Env, parseEnv } from './env.schema';

/**
 * Validates the environment once, at module construction, and exposes the typed
 * AppConfig. Tests pass their own environment instead of mutating process.env.
 * No file is read here (ignoreEnvFile): `.env` is loaded into process.env by
 * the entry points (main.ts, the ops CLI) through loadDotEnv (env-file.ts),
 * before this runs, so a test's explicit environment is never mixed with one.
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
