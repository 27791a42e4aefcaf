import type { MiddlewareHandler } from 'hono';
import type { Sql } from '../db/client.js';
import { findPrincipalByKey, type ApiKeyPrincipal } from '../db/tenants.js';
import { UnauthorizedError } from '../lib/errors.js';

export type AuthEnv = { Variables: { principal: ApiKeyPrincipal; requestId: string } };

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** `Authorization: Bearer <api key>` → the key's tenant, or 401. */
export function requireApiKey(sql: Sql): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header('Authorization');
    if (!header) {
      throw new UnauthorizedError('Send your API key as "Authorization: Bearer <key>"; create one with `npm run tenant:create -- <name>`.');
    }
    const key = BEARER.exec(header)?.[1];
    if (!key) throw new UnauthorizedError('The Authorization header must be "Bearer <key>".');
    const principal = await findPrincipalByKey(sql, key);
    if (!principal) throw new UnauthorizedError('This API key is not valid (unknown or revoked); check it or create a new one.');
    c.set('principal', principal);
    await next();
  };
}
