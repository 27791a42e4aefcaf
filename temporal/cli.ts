/**
 * Finds the Temporal CLI (which embeds the dev server), building the pinned version
 * with `go install` when the machine has none. Order:
 *   1. TEMPORAL_CLI_PATH
 *   2. `temporal` on PATH
 *   3. a cached build of the pinned version under BATCHWORKS_CACHE_DIR
 *   4. `go install …@v1.5.1` into that cache (first time only: minutes)
 *   5. none: the caller falls back to the SDK's own download (needs the internet)
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;
const EXE = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

export type CliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go install';
export interface ResolvedCli {
  path: string;
  source: CliSource;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export const cachedCliPath = (cacheDir: string): string =>
  path.join(cacheDir, `temporal-cli-${TEMPORAL_CLI_VERSION}`, EXE);

/** Builds the pinned CLI into the cache. Builds into a temp dir and renames, so a
 * cut-off build never leaves a half-written binary behind. */
async function goInstall(cacheDir: string, log: (msg: string) => void): Promise<string | undefined> {
  const go = await onPath(process.platform === 'win32' ? 'go.exe' : 'go');
  if (!go) return undefined;
  const target = cachedCliPath(cacheDir);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = await mkdtemp(path.join(path.dirname(target), '.build-'));
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with 'go install ${GO_PACKAGE}' into ${path.dirname(target)} (first time only; this takes a few minutes)...`);
  const started = process.hrtime.bigint();
  try {
    await run(go, ['install', GO_PACKAGE], {
      env: { ...process.env, GOBIN: tmp, CGO_ENABLED: process.env.CGO_ENABLED ?? '0' },
      maxBuffer: 64 * 1024 * 1024,
    });
    await rename(path.join(tmp, EXE), target);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  log(`Built ${target} in ${seconds.toFixed(0)} s.`);
  return target;
}

export async function resolveTemporalCli(opts: {
  cliPath: string | undefined;
  cacheDir: string;
  log: (msg: string) => void;
}): Promise<ResolvedCli | undefined> {
  if (opts.cliPath) {
    if (!(await isExecutable(opts.cliPath))) {
      throw new Error(`TEMPORAL_CLI_PATH=${opts.cliPath} is not an executable file; fix the path or unset it.`);
    }
    return { path: opts.cliPath, source: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = await onPath(EXE);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  const cached = cachedCliPath(opts.cacheDir);
  if (await isExecutable(cached)) return { path: cached, source: 'cache' };
  const built = await goInstall(opts.cacheDir, opts.log);
  if (built) return { path: built, source: 'go install' };
  return undefined;
}
