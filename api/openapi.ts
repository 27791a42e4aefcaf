/** The OpenAPI 3.1 document, generated from the route list and its zod schemas. */
import { z } from 'zod';
import { ROUTE_SPECS, type RouteSpec } from './openapi-registry.js';

type Json = Record<string, unknown>;

/** zod → JSON Schema 2020-12 (OpenAPI 3.1's dialect), as the client must send it. */
const jsonSchema = (schema: z.ZodType): Json => {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
};

function parameters(schema: z.ZodObject | undefined, where: 'path' | 'query'): Json[] {
  if (!schema) return [];
  const s = jsonSchema(schema) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, p]) => ({
    name,
    in: where,
    required: where === 'path' || (s.required ?? []).includes(name),
    schema: p,
    ...(typeof p.description === 'string' ? { description: p.description } : {}),
  }));
}

const problem = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: problem } } });

function operation(r: RouteSpec): Json {
  const [status, description] = r.success;
  const errors: Record<string, Json> = {
    '400': problemResponse('Invalid request: every offending field in `errors`'),
    '413': problemResponse('Body over the route’s size limit'),
  };
  if (r.auth !== 'none') errors['401'] = problemResponse('Missing or wrong credentials');
  if (r.auth === 'apiKey') errors['429'] = problemResponse('Rate limit of the API key; see Retry-After');
  if (r.auth === 'admin') errors['503'] = problemResponse('Admin API disabled (no ADMIN_TOKEN)');
  if (r.params) errors['404'] = problemResponse('No such resource for this tenant');
  const content: Json = {};
  if (r.body) content['application/json'] = { schema: jsonSchema(r.body) };
  if (r.ndjsonQuery) content['application/x-ndjson'] = { schema: { type: 'string', description: 'One {"input": ...} object per line; batch options go in the query.' } };
  return {
    summary: r.summary,
    tags: [r.tag],
    operationId: `${r.method}${r.path.replace(/[/:{}-]+(\w)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    security: r.auth === 'none' ? [] : [{ [r.auth === 'admin' ? 'adminToken' : 'apiKey']: [] }],
    parameters: [...parameters(r.params, 'path'), ...parameters(r.query ?? r.ndjsonQuery, 'query')],
    ...(r.body ? { requestBody: { required: true, content } } : {}),
    responses: { [String(status)]: { description }, ...errors },
  };
}

export const openApiPath = (honoPath: string): string => honoPath.replace(/:(\w+)/g, '{$1}');

export function openApiDocument(opts: { serverUrl?: string | undefined } = {}): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of ROUTE_SPECS) (paths[openApiPath(r.path)] ??= {})[r.method] = operation(r);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Batchworks API',
      version: '1',
      description: 'Durable, multi-tenant batch and consolidation jobs. Errors are RFC 9457 problem details.',
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    tags: [
      { name: 'batches', description: 'Submit and follow batches of jobs' },
      { name: 'consolidation', description: 'Post-processing of finished work' },
      { name: 'admin', description: 'Tenants and API keys (ADMIN_TOKEN)' },
      { name: 'operations', description: 'Health, readiness, metrics, this document' },
    ],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: "A tenant's API key (bw_<prefix>_<secret>)" },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The operator token, ADMIN_TOKEN' },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            instance: { type: 'string' },
            requestId: { type: 'string' },
            errors: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } } },
          },
        },
      },
    },
    paths,
  };
}
