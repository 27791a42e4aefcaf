/**
 * Job metrics through the Temporal runtime's meter, so they leave the worker on the
 * same Prometheus endpoint as the SDK's own (WORKER_METRICS_ADDRESS); without an
 * exporter the meter is a no-op. (The runtime prefixes only its own metrics with `temporal_`.)
 *  - batchworks_job_attempts{job_type, result}: every attempt, succeeded | failed | cancelled
 *  - batchworks_job_attempt_duration (seconds){job_type, result}: handler run time
 *  - batchworks_jobs_ended{outcome}: jobs that reached succeeded | failed, counted by the
 *    write that ended them (exact in both modes: a repeated write changes no row).
 */
import { Context } from '@temporalio/activity';
import { noopMetricMeter } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';

/**
 * Whether the runtime exports metrics. Without an exporter its meter is a no-op, but an
 * activity's meter still resolves its tags (a function of the activity's context) on
 * every record before handing them to it: in a chunk, a few records per job for
 * nothing, about 6% of the worker's CPU in W3. Then nothing is recorded.
 */
let exporting: boolean | undefined;
const exported = () => (exporting ??= Runtime.instance().metricMeter !== noopMetricMeter);

export type AttemptResult = 'succeeded' | 'failed' | 'cancelled';

export function jobsEnded(succeeded: number, failed: number): void {
  if (!exported()) return;
  const ended = Context.current().metricMeter.createCounter('batchworks_jobs_ended', undefined, 'Jobs that ended, by outcome');
  if (succeeded > 0) ended.add(succeeded, { outcome: 'succeeded' });
  if (failed > 0) ended.add(failed, { outcome: 'failed' });
}

const noAttemptMetrics = { attempt(_result: AttemptResult, _startedAt: number) {} };

export function jobMetrics(jobType: string): typeof noAttemptMetrics {
  if (!exported()) return noAttemptMetrics;
  const meter = Context.current().metricMeter.withTags({ job_type: jobType });
  const attempts = meter.createCounter('batchworks_job_attempts', undefined, 'Job attempts by result');
  const duration = meter.createHistogram('batchworks_job_attempt_duration', 'float', 's', 'Run time of one job attempt');
  return {
    attempt(result: AttemptResult, startedAt: number) {
      attempts.add(1, { result });
      duration.record((performance.now() - startedAt) / 1000, { result });
    },
  };
}
