import path from 'node:path';

/**
 * Swagger UI at GET /docs, from the swagger-ui-dist package (no CDN: the page
 * works offline and loads nothing we do not ship). The page is the only HTML
 * the API serves, so it alone gets a CSP that lets a document run: scripts and
 * styles from this origin only (no inline script: the initializer is a file),
 * images from this origin or data: URIs (Swagger UI's icons), fetches to this
 * origin (the document, and "Try it out"). Everything else keeps the API's
 * `default-src 'none'` (security-headers.ts).
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// The icon link keeps browsers from asking for /favicon.ico (a 404). Relative URLs: the page keeps working behind a proxy that mounts the API under a prefix.
export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tenancy-backend API</title>
<link rel="icon" type="image/png" href="./docs/favicon-32x32.png">
<link rel="stylesheet" href="./docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="./docs/swagger-ui-bundle.js"></script>
<script src="./docs/swagger-initializer.js"></script>
</body>
</html>
`;

/** validatorUrl null: Swagger UI would otherwise send the document to an outside validator. */
export const DOCS_INITIALIZER = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: new URL('./openapi.json', window.location.href).href,
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

/** A file of swagger-ui-dist, resolved once (the package's own absolute-path helper does the same). */
export function swaggerUiAsset(file: 'swagger-ui.css' | 'swagger-ui-bundle.js' | 'favicon-32x32.png'): string {
  return path.join(path.dirname(require.resolve('swagger-ui-dist/package.json')), file);
}
