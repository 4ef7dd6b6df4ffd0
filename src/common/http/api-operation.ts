import { SetMetadata } from '@nestjs/common';
import { z } from 'zod';
import { ErrorCode } from '../errors/error-codes';

/**
 * What a route says about itself in the API contract (GET /openapi.json,
 * src/openapi/). Everything Nest already knows is read from the route itself,
 * never repeated here: method and path, access (@TenantRoute & co.), role (@Can),
 * the zod schemas of its ZodValidationPipes (params, query, body: the very
 * objects that validate requests), @HttpCode, a streamed body. This adds what
 * only the author knows: a stable id, a summary, the success body's schema and
 * the error codes the handler itself can raise (the ones its access and input
 * imply are added by the document builder).
 *
 * A route without it still appears in the document (so a client sees it), but
 * test/openapi/openapi.e2e-spec.ts fails until it is declared.
 */
export interface ApiOperationSpec {
  /** Stable, `area.verb` (`documents.get`); the part before the dot is the tag. Clients generate method names from it: never rename. */
  id: string;
  summary: string;
  description?: string;
  /** The 2xx answer. Its status is the route's (@HttpCode, else Nest's default: 201 for POST, 200 otherwise). */
  response?: {
    description?: string;
    /** The JSON body; omitted for 204 and non-JSON answers. */
    schema?: z.ZodType;
    /** A non-JSON answer (a download, Prometheus text, HTML): the media type, its body described as a string. */
    mediaType?: string;
  };
  /** Codes the handler itself can answer (NOT_FOUND, CONFLICT, LAST_OWNER...), beyond those of its access and input. */
  errors?: ErrorCode[];
}

export const API_OPERATION = 'api-operation';

export const ApiOperation = (spec: ApiOperationSpec) => SetMetadata(API_OPERATION, spec);

/**
 * Leaves a route out of the contract on purpose: only the static assets of the
 * documentation page itself, which are not part of the API. The coverage test
 * lists every route carrying it, so an exclusion is visible in review.
 */
export const NotInApiContract = () => SetMetadata(API_OPERATION, false);
