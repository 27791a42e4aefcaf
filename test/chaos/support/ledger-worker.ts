/** The worker entry point (as worker.ts) with the ledger job type registered too: the chaos tests kill it. */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig, temporalAddressOf } from '../../../config.js';
import { createSql } from '../../../db/client.js';
import { builtInJobTypes, createRegistry } from '../../../job-types/registry.js';
import { createLogger } from '../../../lib/logger.js';
import { createWorker, installRuntime } from '../../../temporal/worker.js';
import { ledgerJobTypes } from './ledger-job.js';

const config = loadConfig();
const log = createLogger(config.logLevel, 'chaos-worker');
installRuntime(log, 'WARN');
const sql = createSql(config.databaseUrl, { max: config.databasePoolMax });
const connection = await NativeConnection.connect({ address: temporalAddressOf(config) });
try {
  const worker = await createWorker({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    sql,
    registry: createRegistry([...builtInJobTypes, ...ledgerJobTypes(sql)]),
    log,
    ...(config.workflowBundlePath ? { workflowBundle: { codePath: config.workflowBundlePath } } : {}),
    shutdownGraceMs: config.workerShutdownGraceMs,
    maxConcurrentActivities: config.workerMaxConcurrentActivities,
    tenantMaxJobsInFlight: config.tenantMaxJobsInFlight,
  });
  log.info('worker started');
  await worker.run();
} finally {
  await connection.close();
  await sql.end({ timeout: 5 });
}
