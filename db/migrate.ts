/**
 * Migrations: forward-only SQL files in db/migrations, applied by dbmate (each in a
 * transaction, recorded in schema_migrations). We add what dbmate leaves out: the
 * database is created if missing, and concurrent callers are serialised by an
 * advisory lock, so "migrate at start-up" is safe from any number of processes.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { ensureDatabase } from './databases.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const MIGRATIONS_DIR = path.join(here, 'migrations');
const MIGRATION_LOCK_KEY = 0x62617463; // 'batc'

function dbmateBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve(`@dbmate/${process.platform}-${process.arch}/package.json`));
  return path.join(pkg, 'bin', process.platform === 'win32' ? 'dbmate.exe' : 'dbmate');
}

/** dbmate's driver asks for TLS unless told otherwise; local servers rarely have it. */
function withSslMode(url: string): string {
  const u = new URL(url);
  if (!u.searchParams.has('sslmode')) u.searchParams.set('sslmode', 'disable');
  return u.toString();
}

/** Applies every pending migration to the database at `url`. */
export async function migrate(url: string): Promise<{ output: string }> {
  await ensureDatabase(url);
  const lock = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await lock`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    const { stdout } = await run(
      dbmateBinary(),
      ['--url', withSslMode(url), '--migrations-dir', MIGRATIONS_DIR, '--no-dump-schema', 'up'],
    );
    return { output: stdout.trim() };
  } finally {
    await lock`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => {});
    await lock.end();
  }
}
