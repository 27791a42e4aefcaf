/**
 * RFC 9457 problem details: every error the API returns has this shape, with
 * `application/problem+json`.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { DomainError, InvalidInputError, type FieldError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
}

const slug = (title: string) => title.toLowerCase().replace(/[^a-z0-9]+/g, '-');

export function problemResponse(c: Context, problem: Omit<Problem, 'type' | 'instance'> & { type?: string }): Response {
  const body: Problem = {
    type: problem.type ?? `/problems/${slug(problem.title)}`,
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    instance: c.req.path,
    ...(c.get('requestId') ? { requestId: c.get('requestId') as string } : {}),
    ...(problem.errors?.length ? { errors: problem.errors } : {}),
  };
  return c.body(JSON.stringify(body), problem.status as ContentfulStatusCode, {
    'Content-Type': 'application/problem+json',
  });
}

const HTTP_TITLES: Record<number, string> = {
  400: 'Invalid request',
  401: 'Unauthorized',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
};

/** The one error handler: domain errors and HTTP exceptions keep their status; anything else is a 500 that leaks nothing. */
export function errorHandler(log: Logger) {
  return (err: Error, c: Context): Response => {
    if (err instanceof DomainError) {
      for (const [k, v] of Object.entries(headersOf(err))) c.header(k, v);
      return problemResponse(c, { title: err.title, status: err.status, detail: err.message, errors: err.errors });
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      return problemResponse(c, { title: HTTP_TITLES[status] ?? 'Request failed', status, detail: err.message || 'The request could not be processed.' });
    }
    log.error({ err, requestId: c.get('requestId'), method: c.req.method, path: c.req.path }, 'unhandled error');
    return problemResponse(c, {
      title: 'Internal error',
      status: 500,
      detail: 'Something went wrong on our side; the request id identifies it in our logs.',
    });
  };
}

function headersOf(err: DomainError): Record<string, string> {
  return err.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="batchworks"' } : {};
}

/** zod issues → field errors, with a prefix naming where the value came from. */
export function fieldErrors(error: z.core.$ZodError, where: string): FieldError[] {
  return error.issues.slice(0, 100).map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
}

/** Hook for zValidator: a failed validation becomes a 400 problem listing every field. */
export function validationHook(where: string) {
  return (result: { success: boolean; error?: z.core.$ZodError }) => {
    if (!result.success && result.error) {
      const errors = fieldErrors(result.error, where);
      const first = errors[0];
      throw new InvalidInputError(
        `The request ${where} is not valid${first ? `: ${first.path}: ${first.message}` : ''}${errors.length > 1 ? ` (and ${errors.length - 1} more; see errors)` : ''}.`,
        errors,
      );
    }
  };
}
