/**
 * `npm start`: the whole system on one machine. Starts (or reuses) the Temporal dev
 * server with a persistent database, applies migrations, makes sure a `dev` tenant
 * and key exist, then runs the worker and the API as child processes until Ctrl-C.
 * With no DATABASE_URL and nothing listening at the default one, it serves an
 * embedded PostgreSQL (PGlite, db/embedded.ts) from the data folder and points
 * everything at it, so a newcomer needs only Node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { loadConfig, temporalAddressOf } from '../config.js';
import { createSql } from '../db/client.js';
import { databaseName } from '../db/databases.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded.js';
import { migrate } from '../db/migrate.js';
import { findPrincipalByKey, findTenantByName, insertApiKey, insertTenant } from '../db/tenants.js';
import { toError } from '../lib/errors.js';
import { DevServerPortTaken, startDevServer, type DevServer } from '../temporal/dev-server.js';
import { ensureSearchAttributes } from '../temporal/search-attributes.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const config = loadConfig();
const say = (msg: string) => console.log(`[start] ${msg}`);

async function reachable(address: string): Promise<boolean> {
  try {
    const conn = await Connection.connect({ address, connectTimeout: 1_000 });
    await conn.close();
    return true;
  } catch {
    return false;
  }
}

class ApiPortTaken extends Error {
  constructor(host: string, port: number) {
    super(`something already listens on ${host}:${port}, the API's port (another npm start?). Stop it, or give this one another port with PORT.`);
  }
}

/** Whether anything accepts TCP connections at the URL's host and port (a PostgreSQL there is then assumed). */
function listening(url: string): Promise<boolean> {
  const u = new URL(url);
  return listeningAt(u.hostname || '127.0.0.1', Number(u.port || 5432));
}

function listeningAt(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The dev tenant's key lives in the git-ignored data folder so every start can print it. */
async function devKey(databaseUrl: string): Promise<string> {
  const keyFile = path.join(config.dataDir, 'dev-api-key');
  const sql = createSql(databaseUrl, { max: 1 });
  try {
    const saved = await readFile(keyFile, 'utf8').then((s) => s.trim(), () => undefined);
    if (saved && (await findPrincipalByKey(sql, saved))?.tenantName === 'dev') return saved;
    const tenant = (await findTenantByName(sql, 'dev')) ?? (await insertTenant(sql, 'dev'));
    const { key } = await insertApiKey(sql, tenant.id, 'npm start');
    await mkdir(config.dataDir, { recursive: true });
    await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
    await chmod(keyFile, 0o600);
    say(`created the 'dev' tenant's API key; it is kept in ${path.relative(root, keyFile)}`);
    return key;
  } finally {
    await sql.end();
  }
}

/** ADMIN_TOKEN if set; otherwise one generated once into the data folder, so every start prints the same. */
async function adminToken(): Promise<string> {
  if (config.adminToken) return config.adminToken;
  const file = path.join(config.dataDir, 'admin-token');
  const saved = await readFile(file, 'utf8').then((s) => s.trim(), () => undefined);
  if (saved && saved.length >= 24) return saved;
  const token = randomBytes(32).toString('hex');
  await mkdir(config.dataDir, { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  say(`generated an admin token; it is kept in ${path.relative(root, file)}`);
  return token;
}

/** Polls the API's readiness until it answers 200 (true), or until `timeoutMs` has passed or a stop began (false). */
async function apiReady(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!stopping && Date.now() < deadline) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

function run(name: string, entry: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, entry)], {
    cwd: root,
    env,
    // The IPC channel is how the worker and the API learn that this script died without
    // stopping them (kill -9, the OOM killer): it disconnects, and they stop themselves
    // instead of holding the ports and the task queue for the next npm start.
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping everything`);
      void stop(1);
    }
  });
  return child;
}

let stopping = false;
const children: ChildProcess[] = [];
let devServer: DevServer | undefined;
let embedded: EmbeddedPostgres | undefined;

async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  say('stopping...');
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  await devServer?.stop();
  await embedded?.close();
  process.exit(code);
}
// `on`, not `once`: Ctrl-C reaches this process twice (from the terminal, to the whole
// process group, and passed on by npm), and a second SIGINT with no listener left killed
// it mid-stop, before the worker and the dev server had shut down. `npm start` runs this
// with `node --import tsx`, not the tsx launcher: the launcher passes a signal on, and if
// its child has not said within 30 ms that it got it, kills the child (SIGKILL). Under
// load that took this script down in the middle of its stop (npm then exited 130).
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

try {
  // The API's port first: taken, the API would fail after everything else had started,
  // and the banner would have called whatever answers there this system's API.
  const apiHost = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  if (await listeningAt(apiHost, config.port)) throw new ApiPortTaken(apiHost, config.port);
  let address = temporalAddressOf(config);
  let uiUrl = config.temporalUiUrl;
  if (config.temporalAddress) {
    say(`using the Temporal server at ${address} (TEMPORAL_ADDRESS)`);
    await ensureSearchAttributes(address, config.temporalNamespace);
  } else if (await reachable(address)) {
    say(`a Temporal server already answers at ${address}; using it`);
    await ensureSearchAttributes(address, config.temporalNamespace);
  } else {
    devServer = await startDevServer({
      cliPath: config.temporalCliPath,
      cacheDir: config.cacheDir,
      namespace: config.temporalNamespace,
      port: config.temporalPort,
      uiPort: config.temporalUiPort,
      dbFilename: path.join(config.dataDir, 'temporal.db'),
      log: say,
      // Once stopping, the server's complaints about its own shutdown are noise.
      onOutput: (line) => {
        if (!stopping) console.log(`[temporal] ${line}`);
      },
    });
    address = devServer.address;
    uiUrl = devServer.uiUrl ?? uiUrl;
  }

  let databaseUrl = config.databaseUrl;
  if (!config.databaseUrlSet && !(await listening(databaseUrl))) {
    const dir = path.join(config.dataDir, 'pglite');
    embedded = await startEmbeddedPostgres({ dataDir: dir });
    databaseUrl = embedded.url;
    say(`no DATABASE_URL and no PostgreSQL at ${new URL(config.databaseUrl).host}: embedded PostgreSQL (PGlite) at ${databaseUrl}, data in ${path.relative(root, dir)}`);
  }
  say(`migrating database '${databaseName(databaseUrl)}'`);
  const { output } = await migrate(databaseUrl);
  if (output) for (const line of output.split('\n')) say(line);
  const key = await devKey(databaseUrl);
  const admin = await adminToken();

  const env = { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: address, TEMPORAL_UI_URL: uiUrl, ADMIN_TOKEN: admin };
  children.push(run('worker', 'worker.ts', env), run('api', 'api/server.ts', env));
  // The banner says "ready" only once the API answers: printed as soon as the API's
  // process was spawned, a request sent on reading it found nothing listening yet.
  const ready = await apiReady(`http://${apiHost}:${config.port}/readyz`, 60_000);
  // A child that exited meanwhile has begun a stop, which ends the process: no banner.
  if (stopping) await new Promise(() => {});
  if (!ready) say('the API has not answered /readyz within 60 s; it may still be starting (see its log above)');

  const api = config.publicUrl;
  console.log(`
  Batchworks is ${ready ? 'ready' : 'starting'}.
    API          ${api}
    Temporal UI  ${uiUrl}
    Temporal     ${address} (namespace ${config.temporalNamespace}, task queue ${config.taskQueue})
    dev API key  ${key}
    admin token  ${admin}   (tenants and keys: ${api}/v1/tenants; docs: ${api}/docs)

  Submit a batch of 100 sleep jobs, 10 of them failing twice before they succeed:
    curl -s -X POST ${api}/v1/batches \\
      -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' \\
      -d "$(node -e 'console.log(JSON.stringify({type:"sleep",items:Array.from({length:100},(_,i)=>({input:{ms:200,failTimes:i%10===0?2:0}}))}))')"
  then follow it with:  curl -s ${api}/v1/batches/<id> -H 'Authorization: Bearer ${key}'
  Ctrl-C stops everything.
`);
} catch (err) {
  console.error(`[start] failed: ${toError(err).message}`);
  if (err instanceof DevServerPortTaken) {
    console.error(
      '[start] Another process holds a port the Temporal dev server needs. Stop it, choose other ports with TEMPORAL_PORT and TEMPORAL_UI_PORT, or point TEMPORAL_ADDRESS at a Temporal server you run.',
    );
  }
  await stop(1);
}
