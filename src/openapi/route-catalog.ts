import { RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ModulesContainer } from '@nestjs/core';
import { z } from 'zod';
import { REQUIRED_ACTION } from '../access/can.decorator';
import { Action } from '../access/permissions';
import { ROUTE_ACCESS, RouteAccess } from '../access/route-access.decorator';
import { isStreamedBodyHandler } from '../attachments/streamed-upload';
import { API_OPERATION, ApiOperationSpec } from '../common/http/api-operation';

/**
 * A route as Nest registered it, with everything its decorators and pipes say
 * about it. Read from the container, never listed by hand: the document covers
 * every controller of the running app, the ones mounted by tests included.
 */
export interface CatalogRoute {
  /** Upper case, as Nest names it. */
  method: string;
  /** Nest's pattern, `/documents/:id`. */
  path: string;
  controller: string;
  handler: string;
  access: RouteAccess | undefined;
  action: Action | undefined;
  /** @HttpCode, when set. */
  httpCode: number | undefined;
  /** @StreamedBody(): raw bytes of any type, not JSON. */
  streamedBody: boolean;
  /** Has a @Body() argument (JSON routes). */
  hasBody: boolean;
  /** The schemas of the ZodValidationPipes on @Body/@Query/@Param: the same objects that validate requests. */
  bodySchema: z.ZodType | undefined;
  querySchema: z.ZodType | undefined;
  paramsSchema: z.ZodType | undefined;
  /** @ApiOperation's declaration; false for @NotInApiContract; undefined when the route declares nothing. */
  spec: ApiOperationSpec | false | undefined;
}

export function catalogRoutes(modules: ModulesContainer): CatalogRoute[] {
  const routes: CatalogRoute[] = [];
  const seen = new Set<unknown>();
  for (const module of modules.values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (!type || seen.has(type)) continue;
      seen.add(type);
      for (const classPath of asArray<string>(Reflect.getMetadata(PATH_METADATA, type), '')) {
        for (const name of handlerNames(type.prototype)) {
          const handler = (type.prototype as Record<string, unknown>)[name] as object;
          const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
          if (requestMethod === undefined) continue;
          const meta = <T>(key: string) => (Reflect.getMetadata(key, handler) ?? Reflect.getMetadata(key, type)) as T;
          const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, type, name) ?? {}) as Record<string, { pipes?: unknown[] }>;
          const schemaOf = (kind: RouteParamtypes) =>
            Object.entries(args)
              .filter(([key]) => Number(key.split(':')[0]) === kind)
              .map(([, arg]) => zodSchemaOf(arg.pipes))
              .find((schema) => schema !== undefined);
          for (const methodPath of asArray<string>(Reflect.getMetadata(PATH_METADATA, handler), '')) {
            routes.push({
              method: requestMethod === RequestMethod.ALL ? 'GET' : RequestMethod[requestMethod],
              path: joinPath(classPath, methodPath),
              controller: type.name,
              handler: name,
              access: meta<RouteAccess | undefined>(ROUTE_ACCESS),
              action: meta<Action | undefined>(REQUIRED_ACTION),
              httpCode: Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined,
              streamedBody: isStreamedBodyHandler(handler),
              hasBody: Object.keys(args).some((key) => Number(key.split(':')[0]) === RouteParamtypes.BODY),
              bodySchema: schemaOf(RouteParamtypes.BODY),
              querySchema: schemaOf(RouteParamtypes.QUERY),
              paramsSchema: schemaOf(RouteParamtypes.PARAM),
              spec: Reflect.getMetadata(API_OPERATION, handler) as ApiOperationSpec | false | undefined,
            });
          }
        }
      }
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

function asArray<T>(value: T | T[] | undefined, fallback: T): T[] {
  if (value === undefined) return [fallback];
  return Array.isArray(value) ? (value.length ? value : [fallback]) : [value];
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
