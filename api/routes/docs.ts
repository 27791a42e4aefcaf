import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Hono } from 'hono';
import { NotFoundError } from '../../lib/errors.js';
import { openApiDocument } from '../openapi.js';

/** Swagger UI's files, served from its npm package: the page works without any CDN. */
const ASSETS = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
  ['favicon-32x32.png', 'image/png'],
]);
const assetDir = () => path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Batchworks API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="docs"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#docs', deepLinking: true, persistAuthorization: true });`;

/** GET /openapi.json (generated from the routes' zod schemas) and GET /docs (Swagger UI). */
export function docsRoutes({ publicUrl }: { publicUrl?: string | undefined } = {}) {
  let document: string | undefined;
  const cache = new Map<string, Buffer>();
  return new Hono()
    .get('/openapi.json', (c) => {
      document ??= JSON.stringify(openApiDocument({ serverUrl: publicUrl }));
      return c.body(document, 200, { 'Content-Type': 'application/json; charset=utf-8' });
    })
    .get('/docs', (c) => c.html(PAGE, 200))
    .get('/docs/:file', async (c) => {
      const file = c.req.param('file');
      if (file === 'init.js') return c.body(INIT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      // A Map, not an object literal: `/docs/__proto__` must be a 404, not a prototype (the fuzz test found it).
      const type = ASSETS.get(file);
      if (!type) throw new NotFoundError(`No documentation asset '${file}'.`);
      let bytes = cache.get(file);
      if (!bytes) {
        bytes = await readFile(path.join(assetDir(), file));
        cache.set(file, bytes);
      }
      return c.body(new Uint8Array(bytes), 200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' });
    });
}
