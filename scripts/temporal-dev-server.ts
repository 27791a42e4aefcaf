/** `npm run dev:temporal`: only the Temporal dev server, persistent, with the UI. */
import path from 'node:path';
import { loadConfig } from '../config.js';
import { startDevServer } from '../temporal/dev-server.js';

const config = loadConfig();
const server = await startDevServer({
  cliPath: config.temporalCliPath,
  cacheDir: config.cacheDir,
  namespace: config.temporalNamespace,
  port: config.temporalPort,
  uiPort: config.temporalUiPort,
  dbFilename: path.join(config.dataDir, 'temporal.db'),
  log: (m) => console.log(m),
  onOutput: (line) => console.log(`[temporal] ${line}`),
});
console.log(`Temporal dev server at ${server.address}, UI ${server.uiUrl}. Ctrl-C stops it.`);
const stop = () => void server.stop().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
