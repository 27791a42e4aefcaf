import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  DefaultLogger,
  type NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { Sql } from '../db/client.js';
import type { JobTypeRegistry } from '../job-types/registry.js';
import type { Logger } from '../lib/logger.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Bundles workflows/ once (it takes seconds); the worker and tests reuse the code. */
export async function bundleWorkflows(): Promise<{ code: string }> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Sends the SDK's own log lines (worker state, activity and workflow failures) to our
 * JSON logger, one line each, and with `metricsAddress` serves the SDK's metrics (and
 * the job metrics activities record through its meter) for Prometheus. Call once per
 * process, before creating a worker.
 */
export function installRuntime(log: Logger, level: LogLevel = 'INFO', metricsAddress?: string): void {
  Runtime.install({
    ...(metricsAddress
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress, countersTotalSuffix: true, useSecondsForDurations: true } } } }
      : {}),
    logger: new DefaultLogger(level, (entry) => {
      const { sdkComponent, ...meta } = entry.meta ?? {};
      log[PINO_LEVEL[entry.level]]({ sdk: sdkComponent, ...meta }, entry.message);
    }),
  });
}


export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  sql: Sql;
  registry: JobTypeRegistry;
  log: Logger;
  /** Pre-built workflow code; bundled from workflows/ when omitted. */
  workflowBundle?: WorkflowBundleOption;
  shutdownGraceMs: number;
  maxConcurrentActivities: number;
  /** TENANT_MAX_JOBS_IN_FLIGHT: the cap of tenants without their own. */
  tenantMaxJobsInFlight: number;
}

/**
 * One worker runs workflows and activities on one task queue (which also lets the
 * server hand activities to it eagerly). On shutdown it stops polling and gives
 * in-flight activities `shutdownGraceMs` to finish; the rest are retried elsewhere.
 */
export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities({ sql: deps.sql, registry: deps.registry, log: deps.log, tenantMaxJobsInFlight: deps.tenantMaxJobsInFlight }),
    shutdownGraceTime: deps.shutdownGraceMs,
    maxConcurrentActivityTaskExecutions: deps.maxConcurrentActivities,
  });
}
