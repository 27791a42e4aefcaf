/**
 * Once per test run: a real Temporal dev server (in memory, on a free port) unless
 * TEMPORAL_ADDRESS names one, a migrated template database that each test file
 * copies, and the workflow bundle that every test worker loads.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import 'vitest';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../config.js';
import { dropDatabase } from '../db/databases.js';
import { templateDbName, testDatabaseUrl } from './support/databases.js';
import { migrate } from '../db/migrate.js';
import { startDevServer, type DevServer } from '../temporal/dev-server.js';
import { ensureSearchAttributes } from '../temporal/search-attributes.js';
import { bundleWorkflows } from '../temporal/worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject) {
  const config = loadConfig();
  let server: DevServer | undefined;
  let address = config.temporalAddress;
  if (address) {
    await ensureSearchAttributes(address, config.temporalNamespace);
  } else {
    server = await startDevServer({
      cliPath: config.temporalCliPath,
      cacheDir: config.cacheDir,
      namespace: config.temporalNamespace,
      port: 0,
      log: (m) => console.log(`[global-setup] ${m}`),
    });
    address = server.address;
  }

  const templateDatabase = templateDbName();
  const templateUrl = testDatabaseUrl(templateDatabase);
  await migrate(templateUrl);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'batchworks-test-'));
  const workflowBundlePath = path.join(dir, 'workflow-bundle.js');
  await writeFile(workflowBundlePath, (await bundleWorkflows()).code);

  project.provide('temporalAddress', address);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    await server?.stop();
    await dropDatabase(templateUrl);
    await rm(dir, { recursive: true, force: true });
  };
}
