/**
 * Streams `{ "input": ... }` items out of an NDJSON body, one per line, validating
 * each against the job type as it goes: memory stays constant whatever the size, and
 * the first bad line stops the stream with an error that names it.
 */
import type { JobType } from '../job-types/job-type.js';
import { InvalidInputError, PayloadTooLargeError } from '../lib/errors.js';

export const NDJSON_LIMITS = {
  maxItems: 5_000_000,
  /** A line longer than this is refused rather than buffered. */
  maxLineBytes: 4 * 1024 * 1024,
} as const;

const bad = (line: number, message: string) =>
  new InvalidInputError(`Line ${line} of the NDJSON body is not a valid item: ${message}. Nothing was stored; fix the line and send the batch again.`, [
    { path: `line ${line}`, message },
  ]);

function parseLine(text: string, line: number, type: JobType): unknown {
  let item: unknown;
  try {
    item = JSON.parse(text);
  } catch {
    throw bad(line, 'not valid JSON');
  }
  if (typeof item !== 'object' || item === null || Array.isArray(item) || !('input' in item)) {
    throw bad(line, 'each line must be an object like {"input": {...}}');
  }
  const keys = Object.keys(item);
  if (keys.length !== 1) throw bad(line, `unexpected key(s) ${keys.filter((k) => k !== 'input').join(', ')}; each line is {"input": ...}`);
  const parsed = type.input.safeParse((item as { input: unknown }).input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw bad(line, `input${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The items of the body, page by page: each page holds the items of the lines that one
 * read of the body completed (a read is at most a few tens of KB), so memory stays
 * constant and the consumer pays one await per page rather than per item.
 */
export async function* ndjsonPages(body: ReadableStream<Uint8Array> | null, type: JobType): AsyncGenerator<unknown[]> {
  if (!body) throw new InvalidInputError('The NDJSON body is empty; send one {"input": ...} object per line.');
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  let line = 0;
  let items = 0;
  const take = (text: string, page: unknown[]) => {
    line++;
    if (text.trim() === '') return;
    if (++items > NDJSON_LIMITS.maxItems) {
      throw new PayloadTooLargeError(`An NDJSON batch holds at most ${NDJSON_LIMITS.maxItems} items; split it.`);
    }
    page.push(parseLine(text, line, type));
  };
  for await (const chunk of body) {
    let text: string;
    try {
      text = pending + decoder.decode(chunk, { stream: true });
    } catch {
      throw bad(line + 1, 'not valid UTF-8');
    }
    const page: unknown[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      take(text.slice(start, nl), page);
      start = nl + 1;
    }
    pending = text.slice(start);
    if (pending.length > NDJSON_LIMITS.maxLineBytes) throw bad(line + 1, `longer than ${NDJSON_LIMITS.maxLineBytes} bytes`);
    if (page.length > 0) yield page;
  }
  pending += decoder.decode();
  const last: unknown[] = [];
  if (pending.trim() !== '') take(pending, last);
  if (last.length > 0) yield last;
  if (items === 0) throw new InvalidInputError('The NDJSON body has no items; send one {"input": ...} object per line.');
}
