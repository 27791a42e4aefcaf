/**
 * `--timeline`: where a chunked workload's time went, read back from its runs' Temporal
 * histories. One line per chunk activity on stderr: when it was scheduled, started and
 * completed (ms after the submit response), which jobs it ran (a range, or positions of
 * retries), what came back, each workflow task (scheduled, handed to the worker,
 * completed) and the durable timers between. Ends with the workflow
 * tasks' time on the worker (started to completed), when the first pass and the last
 * chunk ended, how many retry rounds ran, and the chunks' time summed.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { ChunkArgs, ChunkResult } from '../activities/index.js';
import type { System } from './setup.js';

type Event = temporal.api.history.v1.IHistoryEvent;

const ms = (e: Event) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);

interface Chunk {
  scheduled: number;
  started?: number;
  completed?: number;
  args: ChunkArgs;
  result?: ChunkResult;
}

export async function chunkTimeline(sys: System, batchId: string, submittedAt: number, say: (m: string) => void): Promise<void> {
  const chunks: Chunk[] = [];
  const timers: { at: number; fired?: number; ms: number }[] = [];
  /** Each workflow task: scheduled, started (handed to the worker), completed; ms after the submit response. */
  const tasks: { scheduled: number; started: number; completed: number }[] = [];
  for await (const wf of sys.client.workflow.list({ query: `BatchId = '${batchId}'` })) {
    const { events } = await sys.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const bySchedule = new Map<number, Chunk>();
    const timerById = new Map<string, (typeof timers)[number]>();
    let taskScheduled: number | undefined;
    let taskStarted: number | undefined;
    for (const e of events ?? []) {
      if (e.workflowTaskScheduledEventAttributes) taskScheduled = ms(e);
      if (e.workflowTaskStartedEventAttributes) taskStarted = ms(e);
      if (e.workflowTaskCompletedEventAttributes && taskStarted !== undefined) {
        tasks.push({ scheduled: (taskScheduled ?? taskStarted) - submittedAt, started: taskStarted - submittedAt, completed: ms(e) - submittedAt });
        taskStarted = undefined;
      }
      const s = e.activityTaskScheduledEventAttributes;
      if (s && s.activityType?.name === 'runChunk') {
        const c: Chunk = { scheduled: ms(e) - submittedAt, args: defaultPayloadConverter.fromPayload(s.input!.payloads![0]!) };
        bySchedule.set(Number(e.eventId), c);
        chunks.push(c);
      }
      const st = e.activityTaskStartedEventAttributes;
      const c1 = st && bySchedule.get(Number(st.scheduledEventId));
      if (c1) c1.started = ms(e) - submittedAt;
      const done = e.activityTaskCompletedEventAttributes;
      const c2 = done && bySchedule.get(Number(done.scheduledEventId));
      if (c2) {
        c2.completed = ms(e) - submittedAt;
        c2.result = defaultPayloadConverter.fromPayload(done.result!.payloads![0]!);
      }
      const ts = e.timerStartedEventAttributes;
      if (ts) {
        const t = { at: ms(e) - submittedAt, ms: Number(ts.startToFireTimeout?.seconds ?? 0) * 1000 + Math.round((ts.startToFireTimeout?.nanos ?? 0) / 1e6) };
        timers.push(t);
        timerById.set(ts.timerId!, t);
      }
      const tf = e.timerFiredEventAttributes;
      const t = tf && timerById.get(tf.timerId!);
      if (t) t.fired = ms(e) - submittedAt;
    }
  }
  chunks.sort((a, b) => a.scheduled - b.scheduled);
  const what = (a: ChunkArgs) => (a.range ? `range ${a.range.fromSeq}-${a.range.toSeq}` : a.seqs ? `retry ${a.seqs.length}` : `ids ${a.ids?.length ?? 0}`);
  for (const c of chunks) {
    const r = c.result;
    const back = r?.retryAt?.seqs.length ?? r?.retry.length ?? 0;
    say(
      `  chunk ${String(c.scheduled).padStart(6)} ${String(c.started ?? '-').padStart(6)} ${String(c.completed ?? '-').padStart(6)}  ${what(c.args).padEnd(20)} lanes ${c.args.concurrency}` +
        (r ? `  ok ${r.succeeded} failed ${r.failed} back ${back}` : ''),
    );
  }
  for (const t of tasks) say(`  task  ${String(t.scheduled).padStart(6)} ${String(t.started).padStart(6)} ${String(t.completed).padStart(6)}`);
  for (const t of timers) say(`  timer ${String(t.at).padStart(6)} -> ${String(t.fired ?? '-').padStart(6)} (${t.ms} ms)`);
  const firstPass = chunks.filter((c) => c.args.range);
  const retries = chunks.filter((c) => !c.args.range);
  const end = Math.max(...chunks.map((c) => c.completed ?? 0));
  const firstEnd = Math.max(0, ...firstPass.map((c) => c.completed ?? 0));
  // Time chunks ran on the worker, summed: set against the slots and the span, how full they were.
  const busy = chunks.reduce((n, c) => n + ((c.completed ?? 0) - (c.started ?? c.scheduled)), 0);
  // Each task's time on the worker: from the server handing it out to its completion.
  const sorted = tasks.map((t) => t.completed - t.started).sort((a, b) => a - b);
  if (sorted.length > 0) {
    // A chunk's slot waits at least one of these between its chunks (its result in, the next chunk out).
    say(`  workflow tasks: ${sorted.length}, started to completed p50 ${sorted[sorted.length >> 1]} ms, max ${sorted.at(-1)} ms, ${sorted.reduce((a, b) => a + b, 0)} ms in all`);
  }
  say(
    `  first pass: ${firstPass.length} chunks, ended at ${firstEnd} ms; ${retries.length} retry chunks (${retries.filter((c) => c.scheduled < firstEnd).length} started before that), last chunk ended at ${end} ms; chunks ran ${busy} ms in all`,
  );
}
