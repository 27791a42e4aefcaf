/**
 * API entry point: connect, serve, close on SIGINT/SIGTERM. Shutdown is graceful: no
 * new connections, event streams end (clients reconnect elsewhere), requests in flight
 * finish (a submission that answered 202 has its rows and workflow), and only then the
 * pool and the Temporal connection close.
 */
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, temporalAddressOf } from '../config.js';
import { createSql } from '../db/client.js';
import { defaultRegistry } from '../job-types/registry.js';
import { createLogger } from '../lib/logger.js';
import { createApp } from './app.js';

const config = loadConfig();
const log = createLogger(config.logLevel, 'api');
const sql = createSql(config.databaseUrl, { max: config.databasePoolMax });
// Lazy: the API comes up even while Temporal is still starting; submits answer 503 until it is there.
const connection = Connection.lazy({ address: temporalAddressOf(config) });
const client = new Client({ connection, namespace: config.temporalNamespace });
/** In-flight requests get this long after SIGTERM; then their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;
const stopping = new AbortController();

const app = createApp({
  sql,
  registry: defaultRegistry(),
  log,
  adminToken: config.adminToken,
  rateLimit: config.rateLimit,
  tenantMaxJobsInFlight: config.tenantMaxJobsInFlight,
  shutdown: stopping.signal,
  temporal: { client, namespace: config.temporalNamespace, taskQueue: config.taskQueue, uiUrl: config.temporalUiUrl },
});

const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
  log.info({ url: `http://${info.address}:${info.port}` }, 'api listening');
});
// Unhandled, a port already taken ended the process with Node's stack trace of an 'error' event.
server.once('error', (err: NodeJS.ErrnoException) => {
  const taken = err.code === 'EADDRINUSE';
  log.fatal(
    { err, host: config.host, port: config.port },
    taken
      ? `cannot listen on ${config.host}:${config.port}: another process has it (another Batchworks API?); stop it or set PORT`
      : `cannot listen on ${config.host}:${config.port}: ${err.message}`,
  );
  void Promise.allSettled([connection.close(), sql.end({ timeout: 1 })]).then(() => process.exit(1));
});

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  log.info({ signal }, 'api shutting down');
  stopping.abort();
  await new Promise<void>((resolve) => {
    const cut = setTimeout(() => {
      log.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'requests still open after the grace period; closing their connections');
      if ('closeAllConnections' in server) server.closeAllConnections();
      resolve();
    }, SHUTDOWN_GRACE_MS);
    // close() waits for every open connection; idle keep-alive ones are closed at once.
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
  });
  await Promise.allSettled([connection.close(), sql.end({ timeout: 5 })]);
  process.exit(0);
}
// `on`, not `once`: a Ctrl-C under `npm start` arrives more than once, and a signal with
// no listener left would kill the process before its requests are answered.
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
// Started by `npm start` (an IPC channel to it): if that script dies without stopping the
// API (kill -9), the channel disconnects, and the API stops as on SIGTERM.
process.channel?.unref();
process.once('disconnect', () => void shutdown('parent gone'));
