/**
 * The closed set of domain errors. Each carries an HTTP status and a message that
 * says how to fix the problem; `api/problem.ts` turns them into problem+json.
 */
export interface FieldError {
  /** JSON path of the offending value, e.g. `items.3.input.ms`. */
  path: string;
  message: string;
}

export class DomainError extends Error {
  readonly status: number = 500;
  readonly title: string = 'Internal error';
  constructor(
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidInputError extends DomainError {
  override readonly status = 400;
  override readonly title = 'Invalid request';
}

export class UnauthorizedError extends DomainError {
  override readonly status = 401;
  override readonly title = 'Unauthorized';
}

export class ForbiddenError extends DomainError {
  override readonly status = 403;
  override readonly title = 'Forbidden';
}

export class NotFoundError extends DomainError {
  override readonly status = 404;
  override readonly title = 'Not found';
}

export class ConflictError extends DomainError {
  override readonly status = 409;
  override readonly title = 'Conflict';
}

export class PayloadTooLargeError extends DomainError {
  override readonly status = 413;
  override readonly title = 'Payload too large';
}

export class UnprocessableError extends DomainError {
  override readonly status = 422;
  override readonly title = 'Unprocessable request';
}

export class UnavailableError extends DomainError {
  override readonly status = 503;
  override readonly title = 'Service unavailable';
}

/** Normalises anything thrown into an Error; use in every `catch`. */
export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err);
  try {
    return new Error(JSON.stringify(err));
  } catch {
    return new Error(String(err));
  }
}
