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

export type AttemptResult = 'succeeded' | 'failed' | 'cancelled';

export function jobsEnded(succeeded: number, failed: number): void {
  const ended = Context.current().metricMeter.createCounter('batchworks_jobs_ended', undefined, 'Jobs that ended, by outcome');
  if (succeeded > 0) ended.add(succeeded, { outcome: 'succeeded' });
  if (failed > 0) ended.add(failed, { outcome: 'failed' });
}

export function jobMetrics(jobType: string) {
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
