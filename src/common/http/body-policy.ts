import { INestApplication, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors/app-error';
import { payloadTooLarge, unsupportedMediaType } from './framework-errors';

/**
 * What a request body may be. JSON routes speak application/json only (any
 * charset parameter); a body of any other type, or a body without a
 * Content-Type, is a 415 UNSUPPORTED_MEDIA_TYPE, never parsed some other way
 * (no form or text parsers). Routes that stream raw bytes (uploads) take any
 * type. Fastify enforces this with its content-type parsers (only
 * application/json is registered, see app.factory.ts); Express with
 * expressBodyPolicy below, which mirrors Fastify's rules.
 */

/** Methods whose body is never read (Fastify's "bodyless" methods). */
const BODYLESS = new Set(['GET', 'HEAD', 'TRACE']);

export function isJsonMediaType(contentType: string): boolean {
  return contentType.split(';')[0].trim().toLowerCase() === 'application/json';
}

/** The 415 for a request to a JSON route, or undefined when its body (or the absence of one) is acceptable. */
export function bodyMediaTypeError(request: Pick<IncomingMessage, 'method' | 'headers'>): AppError | undefined {
  if (BODYLESS.has(request.method ?? 'GET')) return undefined;
  const contentType = request.headers['content-type'];
  if (contentType === undefined) {
    const length = request.headers['content-length'];
    const hasBody = request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    return hasBody ? unsupportedMediaType() : undefined;
  }
  return isJsonMediaType(contentType) ? undefined : unsupportedMediaType();
}

export interface RouteEntry {
  method: string;
  path: string;
}

/** Every controller route of the application whose handler matches the predicate (no global prefix or versioning is used). */
export function routesWhere(app: INestApplication, predicate: (handler: object) => boolean): RouteEntry[] {
  const routes: RouteEntry[] = [];
  const seen = new Set<unknown>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (!type || seen.has(type)) continue;
      seen.add(type);
      const classPaths = [Reflect.getMetadata(PATH_METADATA, type) ?? ''].flat() as string[];
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = Object.getOwnPropertyDescriptor(type.prototype, name)?.value as object | undefined;
        const method = typeof handler === 'function' ? (Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined) : undefined;
        if (handler === undefined || method === undefined || !predicate(handler)) continue;
        for (const classPath of classPaths) {
          for (const methodPath of [Reflect.getMetadata(PATH_METADATA, handler) ?? ''].flat() as string[]) {
            const path = '/' + [classPath, methodPath].map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/');
            routes.push({ method: RequestMethod[method], path });
          }
        }
      }
    }
  }
  return routes;
}

/** A matcher with Express's default routing (case-insensitive, optional trailing slash); only `:param` segments are supported. */
function matcherFor(route: RouteEntry): (method: string, path: string) => boolean {
  if (/[*?()[\]{}+]/.test(route.path)) throw new Error(`body policy: cannot match the route path ${route.path}`);
  const pattern = route.path.replace(/[.\\^$|]/g, '\\$&').replace(/:\w+/g, '[^/]+');
  const regex = new RegExp(`^${pattern}/?$`, 'i');
  return (method, path) => (route.method === 'ALL' || method === route.method) && regex.test(path);
}

interface ExpressLikeRequest extends IncomingMessage {
  path?: string;
}

/**
 * Express middleware for the application's JSON routes (not the raw-body
 * ones, which take any type and stream): 415 for a body they do not speak,
 * and 413 for a Content-Length over the limit as soon as the headers are in
 * (body-parser would read, and discard, the whole declared body first;
 * Fastify answers at once too). A path no route serves is left to the 404,
 * as on Fastify, whose 404 comes before content-type checks.
 */
export function expressBodyPolicy(routes: { json: RouteEntry[]; rawBody: RouteEntry[] }, limitBytes: number) {
  const json = routes.json.map(matcherFor);
  const rawBody = routes.rawBody.map(matcherFor);
  return (request: ExpressLikeRequest, response: { setHeader(name: string, value: string): unknown }, next: (error?: unknown) => void): void => {
    const length = Number(request.headers['content-length'] ?? 0);
    const error = bodyMediaTypeError(request) ?? (length > limitBytes ? payloadTooLarge() : undefined);
    if (!error) return next();
    const path = request.path ?? String(request.url ?? '').split('?')[0];
    const method = request.method ?? '';
    if (rawBody.some((matches) => matches(method, path)) || !json.some((matches) => matches(method, path))) return next();
    // The body is not read: the connection cannot carry another request after this answer.
    response.setHeader('connection', 'close');
    next(error);
  };
}
