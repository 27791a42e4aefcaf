/**
 * The `floor` workload (see floor-workflows.ts): one-activity-per-job throughput of the
 * bench's own dev server with nothing of Batchworks in the way, W1's and W3's shapes,
 * with activities and with local activities. Per-activity (and local) mode cannot go
 * faster than this on the same machine; the ratio of W1 in that mode to it is what the
 * job system itself costs.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { FloorArgs } from './floor-workflows.js';

const TASK_QUEUE = 'bench-floor';

export async function runFloor(client: Client, address: string, jobs: number): Promise<object[]> {
  // The SDK logs every failed attempt at WARN: W3's 20,000 of them would cost the bench process CPU.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue: TASK_QUEUE,
    workflowsPath: new URL('./floor-workflows.ts', import.meta.url).pathname,
    activities: {
      async noop(i: number, failEvery: number) {
        if (failEvery > 0 && i % failEvery === 0 && Context.current().info.attempt <= 2) throw new Error('fails twice, then succeeds');
      },
    },
  });
  const results: object[] = [];
  try {
    await worker.runUntil(async () => {
      const run = async (name: string, args: FloorArgs) => {
        const started = performance.now();
        const handle = await client.workflow.start('floorWorkflow', { taskQueue: TASK_QUEUE, workflowId: `bench-floor-${name}-${Date.now()}`, args: [args] });
        await handle.result();
        const seconds = (performance.now() - started) / 1000;
        const { historyLength } = await handle.describe();
        return { workload: 'floor', shape: name, mode: 'activity', jobs: args.jobs, seconds: Number(seconds.toFixed(2)), jobsPerSecond: Math.round(args.jobs / seconds), historyEvents: historyLength };
      };
      await run('warmup', { jobs: 200, concurrency: 100, failEvery: 0, retryInitialIntervalMs: 100 });
      results.push(await run('W1', { jobs, concurrency: 100, failEvery: 0, retryInitialIntervalMs: 100 }));
      results.push(await run('W3', { jobs, concurrency: 100, failEvery: 10, retryInitialIntervalMs: 100 }));
      results.push(await run('W1-local', { jobs, concurrency: 100, failEvery: 0, retryInitialIntervalMs: 100, local: true }));
      results.push(await run('W3-local', { jobs, concurrency: 100, failEvery: 10, retryInitialIntervalMs: 100, local: true }));
    });
  } finally {
    await connection.close();
  }
  return results;
}
