/**
 * The error summary of GET /v1/batches/:id is kept per batch (api/error-summary.ts):
 * the policy with a clock of its own, then a failing batch polled through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorSummaryCache, RUNNING_SUMMARY_MAX_AGE_MS, type SummaryKey } from '../../api/error-summary.js';
import { createHarness, sleepItems, type Harness, type TestTenant } from '../support/harness.js';

describe('the kept summary', () => {
  let clock = 0;
  let reads = 0;
  const read = (value: string) => () => {
    reads++;
    return Promise.resolve(value);
  };
  const running = (failedJobs: number, redrives = 0): SummaryKey => ({ status: 'running', failedJobs, redrives });

  it('is read again while the batch runs only once it has changed and a second has passed; an ended batch is read once more, then kept', async () => {
    clock = 0;
    reads = 0;
    const cache = errorSummaryCache<string>(() => clock);
    expect(await cache.get('b', running(5), read('at 5'))).toBe('at 5');
    // Changed, within a second of the read: the kept one.
    clock += RUNNING_SUMMARY_MAX_AGE_MS / 2;
    expect(await cache.get('b', running(7), read('at 7'))).toBe('at 5');
    // Changed, a second after the read: read again.
    clock += RUNNING_SUMMARY_MAX_AGE_MS;
    expect(await cache.get('b', running(9), read('at 9'))).toBe('at 9');
    // Unchanged since that read: the same failed jobs, whatever the time.
    clock += 10 * RUNNING_SUMMARY_MAX_AGE_MS;
    expect(await cache.get('b', running(9), read('again'))).toBe('at 9');
    // Ended, within the second: read again at once, then kept.
    clock += 1;
    expect(await cache.get('b', { status: 'partial', failedJobs: 10, redrives: 0 }, read('final'))).toBe('final');
    clock += 100 * RUNNING_SUMMARY_MAX_AGE_MS;
    expect(await cache.get('b', { status: 'partial', failedJobs: 10, redrives: 0 }, read('again'))).toBe('final');
    // A redrive runs it again: a new key, and a new read.
    expect(await cache.get('b', running(0, 1), read('redriven'))).toBe('redriven');
    // Other batches have summaries of their own.
    expect(await cache.get('c', running(9), read('c at 9'))).toBe('c at 9');
    expect(reads).toBe(5);
  });

  it('does not keep a failed read', async () => {
    const cache = errorSummaryCache<string>(() => 0);
    await expect(cache.get('b', running(1), () => Promise.reject(new Error('connection lost')))).rejects.toThrow('connection lost');
    expect(await cache.get('b', running(1), read('read again'))).toBe('read again');
  });
});

describe('GET /v1/batches/:id of a failing batch', () => {
  let h: Harness;
  let t: TestTenant;
  beforeAll(async () => {
    h = await createHarness();
    t = await h.tenant();
  });
  afterAll(() => h?.close());

  it('counts every failed job by error type once the batch has ended, however often it was polled while it ran', async () => {
    // Two kinds of failure; polled every few milliseconds while it runs.
    const items = sleepItems(Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? { ms: 2, fatal: true } : { ms: 2, failTimes: 5 })));
    const { id } = await h.submit(t.key, { type: 'sleep', mode: 'chunk', concurrency: 10, maxRetries: 0, items });
    type Body = { status: string; counters: { failed: number }; errors: { type: string; count: number }[] };
    let body: Body;
    let polls = 0;
    for (;;) {
      body = (await (await h.request('GET', `/v1/batches/${id}`, { key: t.key })).json()) as Body;
      polls++;
      if (!['pending', 'running'].includes(body.status)) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(polls).toBeGreaterThan(1);
    expect(body).toMatchObject({ status: 'failed', counters: { failed: 300 } });
    expect(body.errors.map((e) => [e.type, e.count])).toEqual([
      ['TransientJobError', 200],
      ['FatalJobError', 100],
    ]);
  });
});
