import { INestApplication, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ModulesContainer } from '@nestjs/core';
import { z } from 'zod';
import { ROUTE_ACCESS, RouteAccess } from '../../src/access/route-access.decorator';

/**
 * Every route of every controller in the Nest container (tenant, sign-in,
 * platform-admin and public alike), with its method and path from Nest's route
 * metadata, cross-checked against Fastify's router, and the zod schemas of the
 * ZodValidationPipe instances on its @Body/@Query/@Param arguments. The
 * isolation harness (its tenant routes) and the fuzz test (all of them) find
 * what to call here, so a new route is reached without anyone listing it.
 */
export interface AppRoute {
  method: string;
  /** Router pattern, e.g. /documents/:id/comments/:commentId. */
  path: string;
  params: string[];
  access: RouteAccess | undefined;
  controller: string;
  handler: string;
  /** Has a parsed @Body(); POST/PUT/PATCH routes without one take raw bytes (uploads). */
  hasBody: boolean;
  bodySchema?: z.ZodType;
  querySchema?: z.ZodType;
  paramsSchema?: z.ZodType;
}

export const routeKey = (route: { method: string; path: string }) => `${route.method} ${route.path}`;

function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function joinPath(...parts: string[]): string {
  return '/' + parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/');
}

function handlerNames(prototype: object): string[] {
  const names = new Set<string>();
  for (let proto = prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (name !== 'constructor' && typeof descriptor?.value === 'function') names.add(name);
    }
  }
  return [...names];
}

function zodSchemaOf(pipes: unknown[] | undefined): z.ZodType | undefined {
  for (const pipe of pipes ?? []) {
    const schema = (pipe as { schema?: unknown } | undefined)?.schema;
    if (schema instanceof z.ZodType) return schema;
  }
  return undefined;
}

export function discoverRoutes(app: INestApplication): AppRoute[] {
  const routes: AppRoute[] = [];
  const seen = new Set<unknown>();
  const router = app.getHttpAdapter().getInstance() as { hasRoute?: (route: { method: string; url: string }) => boolean };
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (!type || seen.has(type)) continue;
      seen.add(type);
      const classPaths = asArray<string>(Reflect.getMetadata(PATH_METADATA, type));
      for (const name of handlerNames(type.prototype)) {
        const handler = (type.prototype as Record<string, unknown>)[name] as object;
        const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (requestMethod === undefined) continue;
        const access = (Reflect.getMetadata(ROUTE_ACCESS, handler) ?? Reflect.getMetadata(ROUTE_ACCESS, type)) as RouteAccess | undefined;
        const method = requestMethod === RequestMethod.ALL ? 'GET' : RequestMethod[requestMethod];
        const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, type, name) ?? {}) as Record<string, { pipes?: unknown[] }>;
        let hasBody = false;
        let bodySchema: z.ZodType | undefined;
        let querySchema: z.ZodType | undefined;
        let paramsSchema: z.ZodType | undefined;
        for (const [key, arg] of Object.entries(args)) {
          const kind = Number(key.split(':')[0]);
          if (kind === RouteParamtypes.BODY) {
            hasBody = true;
            bodySchema ??= zodSchemaOf(arg.pipes);
          } else if (kind === RouteParamtypes.QUERY) querySchema ??= zodSchemaOf(arg.pipes);
          else if (kind === RouteParamtypes.PARAM) paramsSchema ??= zodSchemaOf(arg.pipes);
        }
        for (const classPath of classPaths.length ? classPaths : ['']) {
          for (const methodPath of asArray<string>(Reflect.getMetadata(PATH_METADATA, handler))) {
            const path = joinPath(classPath, methodPath);
            if (router.hasRoute && !router.hasRoute({ method, url: path })) {
              throw new Error(`${method} ${path} (${type.name}.${name}) is not in the Fastify router: does the app use a prefix or versioning this discovery does not know?`);
            }
            const params = [...path.matchAll(/:(\w+)/g)].map((m) => m[1]);
            routes.push({ method, path, params, access, controller: type.name, handler: name, hasBody, bodySchema, querySchema, paramsSchema });
          }
        }
      }
    }
  }
  return routes.sort((a, b) => routeKey(a).localeCompare(routeKey(b)));
}

// ---------------------------------------------------------------- valid samples from the schemas

export type JsonSchema = Record<string, any>;

export function jsonSchemaOf(schema: z.ZodType | undefined): JsonSchema | undefined {
  if (!schema) return undefined;
  try {
    return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  } catch {
    return undefined;
  }
}

/**
 * A value the JSON schema accepts (every property, optional ones included, so
 * "at least one of" refinements pass). Strings and emails start with `label`
 * and carry `unique`, so two samples with different `unique` do not collide on
 * unique columns.
 */
export function sampleOf(schema: JsonSchema | undefined, name = '', unique = '', label = 'fuzz'): unknown {
  if (!schema || typeof schema !== 'object') return undefined;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[schema.enum.length - 1];
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union)) return sampleOf(union.find((s: JsonSchema) => s.type !== 'null') ?? union[0], name, unique, label);
  if (Array.isArray(schema.allOf)) return sampleOf(schema.allOf[0], name, unique, label);
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries<JsonSchema>(schema.properties ?? {})) out[key] = sampleOf(value, key, unique, label);
      return out;
    }
    case 'array': {
      const item = sampleOf(schema.items, name, unique, label);
      return item === undefined ? [] : Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => item);
    }
    case 'string': {
      if (schema.format === 'email' || /email/i.test(name)) return `${label}-${unique || 'x'}@${label}.test`;
      if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      if (schema.format === 'date-time') return new Date(0).toISOString();
      const min = schema.minLength ?? 1;
      const max = schema.maxLength ?? 64;
      const text = `${label}${unique}`;
      return text.padEnd(min, 'x').slice(0, Math.max(min, Math.min(max, text.length)));
    }
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return true;
    default:
      return undefined;
  }
}

/** Property names of an object schema, and which are required. */
export function fieldsOf(schema: JsonSchema | undefined): { names: string[]; required: string[] } {
  const object = schema?.type === 'object' ? schema : schema?.allOf?.[0]?.type === 'object' ? schema.allOf[0] : undefined;
  return { names: Object.keys(object?.properties ?? {}), required: (object?.required as string[] | undefined) ?? [] };
}
