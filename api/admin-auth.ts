import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { UnauthorizedError, UnavailableError } from '../lib/errors.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` for the operator routes. Both sides are hashed
 * first so the comparison is constant-time whatever the lengths; without a configured
 * token the routes are off (503), never open.
 */
export function requireAdminToken(token: string | undefined): MiddlewareHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async (c, next) => {
    if (!expected) {
      throw new UnavailableError('The admin API is disabled: set ADMIN_TOKEN on the API server to enable it.');
    }
    const given = BEARER.exec(c.req.header('Authorization') ?? '')?.[1];
    if (!given || !timingSafeEqual(digest(given), expected)) {
      throw new UnauthorizedError('The admin routes need "Authorization: Bearer <ADMIN_TOKEN>"; this token is missing or wrong.');
    }
    await next();
  };
}
