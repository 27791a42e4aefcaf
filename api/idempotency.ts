/**
 * Idempotency-Key on POST /v1/batches. The request is hashed (JSON: the validated
 * body; NDJSON: its bytes as they stream in, with the options in the query) and the
 * key is written with the batch, in its transaction. The same key and request answer
 * the same batch (200); the same key with another request is a 422. Keys are per tenant.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Context } from 'hono';
import { findIdempotencyKey, type IdempotencyRecord } from '../db/idempotency-keys.js';
import type { Sql } from '../db/client.js';
import { UnprocessableError } from '../lib/errors.js';
import type { AuthEnv } from './auth.js';
import { validationHook } from './problem.js';
import { idempotencyKeyHeader } from './schemas.js';

export interface IdempotentRequest {
  key: string;
  /** The request's hash; for NDJSON, complete once the body has been read. */
  digest(): Buffer;
}

/** Thrown inside the batch's transaction when a concurrent request took the key first: the transaction rolls back. */
export class IdempotencyKeyTaken extends Error {
  constructor() {
    super('idempotency key taken by a concurrent request');
  }
}

/** The validated Idempotency-Key header, or undefined when the request has none. */
export function idempotencyKeyOf(c: Context<AuthEnv>): string | undefined {
  const raw = c.req.header('Idempotency-Key');
  if (raw === undefined) return undefined;
  const parsed = idempotencyKeyHeader.safeParse(raw);
  if (!parsed.success) validationHook('header Idempotency-Key')(parsed);
  return parsed.data;
}

export function jsonRequestHash(body: unknown): Buffer {
  return createHash('sha256').update('application/json\n').update(JSON.stringify(body)).digest();
}

/** Starts an NDJSON request's hash with its options (sorted, so their order does not matter). */
export function ndjsonHasher(query: Record<string, string>): Hash {
  const options = Object.entries(query).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update('application/x-ndjson\n').update(JSON.stringify(options)).update('\n');
}

/** The body stream, feeding every chunk into `hash` as the consumer reads it. */
export function hashedStream(body: ReadableStream<Uint8Array> | null, hash: Hash): ReadableStream<Uint8Array> | null {
  if (!body) return null;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
}

/** Reads a stream to its end (to finish its hash) without keeping it. */
export async function drain(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  while (!(await reader.read()).done) {
    // Only the hash is wanted.
  }
}

export const findKey = (sql: Sql, tenantId: string, key: string) => findIdempotencyKey(sql, tenantId, key);

/** The batch an earlier request with this key created, if the request is the same; else a 422. */
export function checkReplay(record: IdempotencyRecord, digest: Buffer): string {
  if (!record.requestHash.equals(digest)) {
    throw new UnprocessableError(
      'This Idempotency-Key was already used with a different request (body or options). Use a new key for a new batch, or send the original request again.',
    );
  }
  return record.batchId;
}
