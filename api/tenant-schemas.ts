/** Request schemas of the admin routes (tenants, API keys, allow-lists). */
import { z } from 'zod';

const uuid = z.uuid('must be a UUID, e.g. 3b241101-e2bb-4255-8caf-4136c566a962');

export const tenantName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _, at most 63, e.g. "acme"');
const keyName = z.string().trim().min(1).max(100);

/** A host name or IP literal without port, or `*.suffix`; what the http.request guard matches. */
const allowHost = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$|^\[?[0-9a-f:.]+\]?$/, 'a host name, `*.suffix` or an IP literal, without scheme or port');

export const createTenantBody = z
  .object({
    name: tenantName,
    /** Name of the first API key, created with the tenant. */
    keyName: keyName.default('default'),
    httpAllowHosts: z.array(allowHost).max(100).optional(),
  })
  .strict();

export const createKeyBody = z.object({ name: keyName.default('default') }).strict();

export const tenantIdParam = z.object({ id: uuid });
export const tenantKeyParam = z.object({ id: uuid, keyId: uuid });

export const listTenantsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: tenantName.optional(),
  })
  .strict();

/** The tenant's cap on jobs in flight across all its batches; null: back to TENANT_MAX_JOBS_IN_FLIGHT. */
export const patchTenantBody = z
  .object({ maxJobsInFlight: z.int().min(1).max(1_000_000).nullable() })
  .strict();

export const allowHostsBody = z.object({ hosts: z.array(allowHost).max(100) }).strict();
