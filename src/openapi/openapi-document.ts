import { createDocument, ZodOpenApiOperationObject, ZodOpenApiPathsObject, ZodOpenApiResponsesObject, oas31 } from 'zod-openapi';
import { MINIMUM_ROLE } from '../access/permissions';
import { ErrorCode, httpStatusFor } from '../common/errors/error-codes';
import { errorEnvelopeSchema } from '../common/http/error-envelope';
import { CatalogRoute } from './route-catalog';

/**
 * The OpenAPI 3.1 document, built from the routes Nest registered (route-catalog.ts).
 *
 * Why zod-openapi (5.x): it turns the very zod schemas the ZodValidationPipes run into
 * parameters and bodies (z.toJSONSchema underneath, with input/output views: a default
 * is optional in a request and present in a response), splits a params/query object into
 * one parameter each, and registers schemas that carry `.meta({ id })` as components.
 * z.toJSONSchema alone would leave all of that, and the document's own shape, to us.
 * 6.x needs Node 22; this project supports Node 20.
 */

export const OPENAPI_INFO = {
  title: 'tenancy-backend API',
  version: '0.1.0',
  description:
    'Multi-tenant API. Tenant routes need a credential of the tenant (an access token from POST /auth/login, or an API key) ' +
    'and name the tenant with the `x-tenant-id` header (id or slug) or a tenant subdomain. Every error has the `ErrorEnvelope` body.',
};

/** Named for what they are; all three are sent as `Authorization: Bearer <value>` (README "Credentials"). */
export const SECURITY_SCHEMES: Record<string, oas31.SecuritySchemeObject> = {
  bearerJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token of one tenant (POST /auth/login, /auth/accept-invitation, /auth/switch-tenant).' },
  apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'tk_<key id>_<tenant id>_<secret>', description: 'A tenant API key (POST /api-keys), sent as a bearer token.' },
  adminKey: { type: 'http', scheme: 'bearer', description: 'The platform admin key (ADMIN_API_KEY), for platform routes only.' },
};

const TENANT_PARAMETER: oas31.ParameterObject = {
  name: 'x-tenant-id',
  in: 'header',
  // A tenant subdomain (<slug>.<TENANT_BASE_DOMAIN>) names the tenant instead; one of the two is required.
  required: false,
  description: 'The tenant, by id (UUID) or slug. Required unless the request is sent to the tenant subdomain; both must then agree.',
  schema: { type: 'string', minLength: 1, maxLength: 100 },
};

/** The codes a route can answer because of how it is reached, whatever its handler does. */
function impliedErrors(route: CatalogRoute): ErrorCode[] {
  const codes: ErrorCode[] = [ErrorCode.Internal];
  const namesTenant = route.access === 'tenant' || route.access === 'tenant-sign-in';
  if (namesTenant) {
    // AccessGuard's steps 2-3 (and sign-in's tenant resolution); the lookups need PostgreSQL.
    codes.push(ErrorCode.TenantRequired, ErrorCode.TenantHeaderInvalid, ErrorCode.TenantAmbiguous, ErrorCode.TenantNotFound, ErrorCode.TenantSuspended, ErrorCode.ServiceUnavailable);
    // A tenant on a dedicated database (docs/scale-out.md): its database full, behind, or the tenant just moved.
    codes.push(ErrorCode.DatabaseBusy, ErrorCode.DatabaseBehind, ErrorCode.TenantMoving);
  }
  if (route.access === 'tenant') {
    // Steps 3-9 (step 9: the plan; an API key needs the api_keys feature on every route), and
    // PostgreSQL's own re-check of the admitted access with the request's statements.
    codes.push(ErrorCode.Unauthenticated, ErrorCode.TenantAccessDenied, ErrorCode.InsufficientRole, ErrorCode.FeatureNotInPlan, ErrorCode.AccessChanged);
  }
  if (route.access === 'platform-admin') codes.push(ErrorCode.Unauthenticated);
  if (route.bodySchema || route.querySchema || route.paramsSchema) codes.push(ErrorCode.ValidationFailed);
  if (route.hasBody) codes.push(ErrorCode.MalformedRequest, ErrorCode.PayloadTooLarge, ErrorCode.UnsupportedMediaType);
  if (route.querySchema && 'cursor' in (jsonProperties(route.querySchema) ?? {})) codes.push(ErrorCode.InvalidCursor);
  // A write whose COMMIT lost its connection may or may not have been saved (tenant data, or platform rows).
  if ((namesTenant || route.access === 'platform-admin') && route.method !== 'GET') codes.push(ErrorCode.OutcomeUnknown);
  return codes;
}

function jsonProperties(schema: unknown): Record<string, unknown> | undefined {
  return (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
}

/** The 503 codes sent with Retry-After (OUTCOME_UNKNOWN is not: read back first). */
const RETRY_AFTER_503: readonly ErrorCode[] = [ErrorCode.ServiceUnavailable, ErrorCode.StorageUnavailable, ErrorCode.DatabaseBehind, ErrorCode.DatabaseBusy, ErrorCode.TenantMoving];

/** One response per status, its body the envelope with `error.code` narrowed to the codes this route can answer with it. */
function errorResponses(codes: Iterable<ErrorCode>): ZodOpenApiResponsesObject {
  const byStatus = new Map<number, Set<ErrorCode>>();
  for (const code of codes) {
    const status = httpStatusFor(code);
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code));
  }
  const responses: ZodOpenApiResponsesObject = {};
  for (const [status, set] of [...byStatus].sort(([a], [b]) => a - b)) {
    const list = [...set].sort();
    const headers: Record<string, oas31.HeaderObject> = {};
    if (status === 401) headers['WWW-Authenticate'] = { description: 'Bearer challenge (RFC 6750)', schema: { type: 'string' } };
    if (status === 429 || list.some((code) => RETRY_AFTER_503.includes(code))) {
      headers['Retry-After'] = { description: 'Seconds to wait before retrying (not sent with OUTCOME_UNKNOWN: read back first)', schema: { type: 'integer' } };
    }
    responses[`${status}` as `4${string}`] = {
      description: list.map((code) => `\`${code}\``).join(', '),
      ...(Object.keys(headers).length ? { headers } : {}),
      content: {
        'application/json': {
          schema: {
            allOf: [
              { $ref: '#/components/schemas/ErrorEnvelope' },
              { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string', enum: list } } } } },
            ],
          },
        },
      },
    };
  }
  return responses;
}

function successResponse(route: CatalogRoute): ZodOpenApiResponsesObject {
  const status = route.httpCode ?? (route.method === 'POST' ? 201 : 200);
  const spec = route.spec || undefined;
  const description = spec?.response?.description ?? (status === 204 ? 'Done; no body' : 'OK');
  if (status === 204) return { '204': { description } };
  const key = `${status}` as `2${string}`;
  if (spec?.response?.mediaType) return { [key]: { description, content: { [spec.response.mediaType]: { schema: { type: 'string' as const } } } } };
  return { [key]: { description, content: { 'application/json': { schema: spec?.response?.schema ?? { type: 'object' as const } } } } };
}

function operationOf(route: CatalogRoute): ZodOpenApiOperationObject {
  const spec = route.spec || undefined;
  const id = spec?.id ?? `${route.controller.replace(/Controller$/, '').replace(/^./, (c) => c.toLowerCase())}.${route.handler}`;
  const parameters: oas31.ParameterObject[] = [];
  if (route.access === 'tenant' || route.access === 'tenant-sign-in') parameters.push(TENANT_PARAMETER);
  // Path parameters read without a pipe (@Param('idOrSlug')) still have to be declared.
  const typed = new Set(Object.keys(jsonProperties(route.paramsSchema) ?? {}));
  for (const [, name] of route.path.matchAll(/:(\w+)/g)) {
    if (!typed.has(name)) parameters.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  }
  const role = route.action ? `\n\nNeeds a role allowed to \`${route.action}\` (at least \`${MINIMUM_ROLE[route.action]}\`).` : '';
  const operation: ZodOpenApiOperationObject = {
    operationId: id,
    tags: [id.split('.')[0]],
    summary: spec?.summary ?? `${route.controller}.${route.handler}`,
    ...(spec?.description || role ? { description: `${spec?.description ?? ''}${role}`.trim() } : {}),
    security: securityOf(route),
    ...(parameters.length ? { parameters } : {}),
    requestParams: {
      ...(route.paramsSchema ? { path: route.paramsSchema as never } : {}),
      ...(route.querySchema ? { query: route.querySchema as never } : {}),
    },
    responses: { ...successResponse(route), ...errorResponses(new Set([...impliedErrors(route), ...(spec?.errors ?? [])])) },
    ...(route.action ? { 'x-required-action': route.action, 'x-minimum-role': MINIMUM_ROLE[route.action] } : {}),
    ...(spec ? {} : { 'x-undeclared': true }),
  };
  if (route.bodySchema) operation.requestBody = { required: true, content: { 'application/json': { schema: route.bodySchema } } };
  else if (route.streamedBody) {
    operation.requestBody = {
      required: true,
      description: 'The raw bytes, streamed; their type from Content-Type.',
      content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
    };
  }
  return operation;
}

function securityOf(route: CatalogRoute): oas31.SecurityRequirementObject[] {
  switch (route.access) {
    case 'tenant':
      return [{ bearerJwt: [] }, { apiKey: [] }];
    case 'platform-admin':
      return [{ adminKey: [] }];
    default:
      // Public and sign-in routes take no credential (an empty list says so; no global default applies).
      return [];
  }
}

/** `/documents/:id` as OpenAPI writes it: `/documents/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}');
}

export function buildOpenApiDocument(routes: CatalogRoute[]): oas31.OpenAPIObject {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    if (route.spec === false) continue;
    const item = (paths[openApiPath(route.path)] ??= {});
    item[route.method.toLowerCase() as 'get'] = operationOf(route);
  }
  const tags = [...new Set(Object.values(paths).flatMap((item) => Object.values(item).flatMap((op) => (op as ZodOpenApiOperationObject).tags ?? [])))].sort();
  return createDocument({
    openapi: '3.1.0',
    info: OPENAPI_INFO,
    tags: tags.map((name) => ({ name })),
    paths,
    components: { schemas: { ErrorEnvelope: errorEnvelopeSchema }, securitySchemes: SECURITY_SCHEMES },
  });
}
