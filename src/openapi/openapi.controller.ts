import { Controller, Get, Header, StreamableFile } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { PublicRoute } from '../access/route-access.decorator';
import { ApiOperation, NotInApiContract } from '../common/http/api-operation';
import { OpenApiService } from './openapi.service';
import { DOCS_CSP, DOCS_HTML, DOCS_INITIALIZER, swaggerUiAsset } from './swagger-ui';

/** The API contract and its documentation page: public, no tenant (they describe the API, they expose no data). */
@PublicRoute()
@Controller()
export class OpenApiController {
  constructor(private readonly openapi: OpenApiService) {}

  @Get('openapi.json')
  @ApiOperation({ id: 'contract.openapi', summary: 'This document (OpenAPI 3.1)', response: { description: 'The OpenAPI 3.1 document', mediaType: 'application/json' } })
  document() {
    return this.openapi.document();
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', DOCS_CSP)
  @ApiOperation({ id: 'contract.docs', summary: 'Swagger UI for this document', response: { description: 'An HTML page', mediaType: 'text/html' } })
  page(): string {
    return DOCS_HTML;
  }

  @Get('docs/swagger-initializer.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @NotInApiContract()
  initializer(): string {
    return DOCS_INITIALIZER;
  }

  @Get('docs/swagger-ui-bundle.js')
  @NotInApiContract()
  bundle(): StreamableFile {
    return new StreamableFile(createReadStream(swaggerUiAsset('swagger-ui-bundle.js')), { type: 'text/javascript; charset=utf-8' });
  }

  @Get('docs/swagger-ui.css')
  @NotInApiContract()
  stylesheet(): StreamableFile {
    return new StreamableFile(createReadStream(swaggerUiAsset('swagger-ui.css')), { type: 'text/css; charset=utf-8' });
  }

  @Get('docs/favicon-32x32.png')
  @NotInApiContract()
  favicon(): StreamableFile {
    return new StreamableFile(createReadStream(swaggerUiAsset('favicon-32x32.png')), { type: 'image/png' });
  }
}
