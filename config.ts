/**
 * The one place that reads the environment. Validated with zod, typed and frozen;
 * a bad variable fails fast with its name.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/** Jobs a tenant may have in flight across all its batches, unless an operator set its own cap. */
export const DEFAULT_TENANT_MAX_JOBS_IN_FLIGHT = 1000;

const durationMs = z.coerce.number().int().nonnegative();

const schema = z.object({
  DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/batchworks'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('batchworks'),
  TEMPORAL_UI_URL: z.url().default('http://localhost:8233'),
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BATCHWORKS_DATA_DIR: z.string().min(1).default('.data'),
  BATCHWORKS_CACHE_DIR: z.string().min(1).default(path.join(os.homedir(), '.cache', 'batchworks')),
  WORKER_SHUTDOWN_GRACE_MS: durationMs.default(30_000),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).default(200),
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  // A secret: no default. Unset, the admin routes answer 503.
  // host:port for the worker's Prometheus endpoint (Temporal SDK metrics and job metrics); unset: none.
  WORKER_METRICS_ADDRESS: z.string().regex(/^[^:]+:\d{1,5}$/, 'host:port, e.g. 0.0.0.0:9464').optional(),
  RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).max(1_000_000).default(100),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(200),
  // The cap on a tenant's jobs in flight across all its batches, for tenants without their own.
  TENANT_MAX_JOBS_IN_FLIGHT: z.coerce.number().int().min(1).max(1_000_000).default(DEFAULT_TENANT_MAX_JOBS_IN_FLIGHT),
  ADMIN_TOKEN: z.string().min(24, 'use at least 24 characters, e.g. `openssl rand -hex 32`').optional(),
});

/** Every variable config.ts reads, for checks (docker-compose.yml) that must name only known ones. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

export type Config = Readonly<{
  databaseUrl: string;
  /** False when DATABASE_URL is unset (the default URL): `npm start` may then fall back to the embedded database. */
  databaseUrlSet: boolean;
  databasePoolMax: number;
  /** Set when an existing Temporal server is to be used instead of the dev server. */
  temporalAddress: string | undefined;
  temporalNamespace: string;
  taskQueue: string;
  temporalUiUrl: string;
  temporalCliPath: string | undefined;
  temporalPort: number;
  temporalUiPort: number;
  host: string;
  port: number;
  publicUrl: string;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  dataDir: string;
  cacheDir: string;
  workerShutdownGraceMs: number;
  workerMaxConcurrentActivities: number;
  workflowBundlePath: string | undefined;
  /** Bearer token of the admin routes (/v1/tenants); unset disables them. */
  adminToken: string | undefined;
  workerMetricsAddress: string | undefined;
  /** Per API key, per API process; 0 turns the limit off. */
  rateLimit: { perSecond: number; burst: number };
  /** TENANT_MAX_JOBS_IN_FLIGHT: the cap of tenants without their own (`tenant_settings.max_jobs_in_flight`). */
  tenantMaxJobsInFlight: number;
}>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration in the environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    databaseUrlSet: env.DATABASE_URL !== undefined && env.DATABASE_URL !== '',
    databasePoolMax: e.DATABASE_POOL_MAX,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    temporalUiUrl: e.TEMPORAL_UI_URL,
    temporalCliPath: e.TEMPORAL_CLI_PATH,
    temporalPort: e.TEMPORAL_PORT,
    temporalUiPort: e.TEMPORAL_UI_PORT,
    host: e.HOST,
    port: e.PORT,
    publicUrl: e.PUBLIC_URL ?? `http://${e.HOST === '0.0.0.0' ? 'localhost' : e.HOST}:${e.PORT}`,
    logLevel: e.LOG_LEVEL,
    dataDir: path.resolve(e.BATCHWORKS_DATA_DIR),
    cacheDir: path.resolve(e.BATCHWORKS_CACHE_DIR),
    workerShutdownGraceMs: e.WORKER_SHUTDOWN_GRACE_MS,
    workerMaxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
    workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    adminToken: e.ADMIN_TOKEN,
    workerMetricsAddress: e.WORKER_METRICS_ADDRESS,
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    tenantMaxJobsInFlight: e.TENANT_MAX_JOBS_IN_FLIGHT,
  });
}

/** The address the worker and API use: the configured server, or the local dev server. */
export const temporalAddressOf = (config: Config): string =>
  config.temporalAddress ?? `127.0.0.1:${config.temporalPort}`;
