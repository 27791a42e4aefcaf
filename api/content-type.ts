import { createMiddleware } from 'hono/factory';
import { HTTPException } from 'hono/http-exception';

export const mediaType = (header: string | undefined): string | undefined => header?.split(';')[0]?.trim().toLowerCase();

/** Bodies must be JSON (or NDJSON, handled before this); anything else is a 415 that says so. */
export const requireJson = createMiddleware(async (c, next) => {
  const type = mediaType(c.req.header('Content-Type'));
  if (type !== 'application/json') {
    throw new HTTPException(415, {
      message: `Send the body as JSON with "Content-Type: application/json", or as NDJSON with "Content-Type: application/x-ndjson" (got ${type ? `"${type}"` : 'none'}).`,
    });
  }
  await next();
});
