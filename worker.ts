/** Worker entry point: connect, run until SIGINT/SIGTERM, close. */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig, temporalAddressOf } from './config.js';
import { createSql } from './db/client.js';
import { defaultRegistry } from './job-types/registry.js';
import { createLogger } from './lib/logger.js';
import { closeSlotPools } from './activities/tenant-cap.js';
import { createWorker, installRuntime } from './temporal/worker.js';

const config = loadConfig();
const log = createLogger(config.logLevel, 'worker');
installRuntime(log, 'INFO', config.workerMetricsAddress);
const sql = createSql(config.databaseUrl, { max: config.databasePoolMax });
const address = temporalAddressOf(config);
const connection = await NativeConnection.connect({ address });
try {
  const worker = await createWorker({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    sql,
    registry: defaultRegistry(),
    log,
    ...(config.workflowBundlePath ? { workflowBundle: { codePath: config.workflowBundlePath } } : {}),
    shutdownGraceMs: config.workerShutdownGraceMs,
    maxConcurrentActivities: config.workerMaxConcurrentActivities,
    tenantMaxJobsInFlight: config.tenantMaxJobsInFlight,
  });
  log.info({ address, taskQueue: config.taskQueue, namespace: config.temporalNamespace, metrics: config.workerMetricsAddress ?? null }, 'worker started');
  // The SDK's runtime turns SIGINT/SIGTERM into a graceful worker.shutdown(), and stops
  // listening at the first one: a second (a terminal's Ctrl-C reaches the worker, and
  // `npm start` passes it on as SIGTERM) then killed the worker mid-shutdown, its
  // running activities cut off unrecorded. Later signals are noted and ignored; the
  // shutdown is bounded by WORKER_SHUTDOWN_GRACE_MS.
  let signals = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (signals++ > 0) log.info({ signal, graceMs: config.workerShutdownGraceMs }, 'worker already shutting down; running activities have until the grace period ends');
    });
  }
  // Started by `npm start` (an IPC channel to it): if that script dies without stopping
  // this worker (kill -9), the channel disconnects, and the worker stops as on SIGTERM.
  // Unreferenced, the channel does not keep the process alive once the worker has stopped.
  process.channel?.unref();
  process.once('disconnect', () => {
    if (worker.getState() !== 'RUNNING') return;
    log.warn('npm start, which started this worker, is gone; stopping');
    worker.shutdown();
  });
  await worker.run();
  // Its attempts have ended: the tenants' slots its pools still lease go back now, not
  // when the leases lapse (a tenant at its cap would wait that long).
  await closeSlotPools().catch((err: unknown) => log.warn({ err }, 'tenant slots not given back; they lapse with their leases'));
  log.info('worker stopped');
} finally {
  await connection.close();
  await sql.end({ timeout: 5 });
}
