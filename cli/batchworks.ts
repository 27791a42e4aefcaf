#!/usr/bin/env tsx
/**
 * `batchworks`: submit and follow batches from a shell. Thin: parse arguments, run
 * one command, exit with a code that says the outcome (cli/exit-codes.ts).
 */
import { parseArgs } from 'node:util';
import { BatchworksError } from '../client/index.js';
import { toError } from '../lib/errors.js';
import * as batches from './batch-commands.js';
import { loadCliConfig } from './config.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { createTenant } from './tenant-commands.js';

const USAGE = `usage: batchworks <command> [options]

  submit <file.ndjson|.json|.csv> --type <type> [--watch] [--concurrency n] [--max-retries n]
  status <batch id> [--watch]
  list [--status s] [--type t] [--limit n] [--cursor c]
  cancel <batch id>
  retry <batch id> [--error-type T] [--watch]
  results <batch id> [--format ndjson|csv]        (to stdout: > out.csv)
  clusters <batch id>                             (document.analyze batches)
  job-types
  tenants create <name> [--allow-host host]...    (operator: uses DATABASE_URL)

  common: --url (BATCHWORKS_URL, default http://127.0.0.1:3000), --key (BATCHWORKS_API_KEY), --json
  exit: 0 completed, 1 error, 2 usage, 3 partial, 4 failed, 5 cancelled, 6 not ended yet`;

const OPTIONS = {
  type: { type: 'string' },
  watch: { type: 'boolean', default: false },
  concurrency: { type: 'string' },
  'max-retries': { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  'error-type': { type: 'string' },
  format: { type: 'string', default: 'ndjson' },
  'allow-host': { type: 'string', multiple: true, default: [] as string[] },
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function int(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number`);
  return Number(value);
}

function one(positionals: string[], what: string): string {
  const [value, ...extra] = positionals;
  if (!value) throw new UsageError(`name the ${what}`);
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  return value;
}

async function main(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [command, ...rest] = positionals;
  if (o.help || !command) {
    console.log(USAGE);
    return command || o.help ? ExitCode.completed : ExitCode.usage;
  }
  const io: batches.Io = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    tty: Boolean(process.stderr.isTTY),
    stdout: process.stdout,
  };
  const json = o.json;
  if (command === 'tenants') {
    const [sub, ...args] = rest;
    if (sub !== 'create') throw new UsageError('the tenants command has one subcommand: tenants create <name>');
    return createTenant(io, { name: one(args, 'tenant'), allowHosts: o['allow-host'], json });
  }

  const config = loadCliConfig();
  const client = () => batches.connect(o.url ?? config.url, o.key ?? config.apiKey);
  switch (command) {
    case 'submit': {
      if (!o.type) throw new UsageError('submit needs --type <job type> (see `batchworks job-types`)');
      const concurrency = int(o.concurrency, 'concurrency');
      const maxRetries = int(o['max-retries'], 'max-retries');
      return batches.submit(client(), io, {
        file: one(rest, 'file'),
        type: o.type,
        watch: o.watch,
        json,
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(maxRetries !== undefined ? { maxRetries } : {}),
      });
    }
    case 'status':
      return batches.status(client(), io, { id: one(rest, 'batch id'), watch: o.watch, json });
    case 'list': {
      const limit = int(o.limit, 'limit');
      return batches.list(client(), io, {
        json,
        ...(o.status ? { status: o.status } : {}),
        ...(o.type ? { type: o.type } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(o.cursor ? { cursor: o.cursor } : {}),
      });
    }
    case 'cancel':
      return batches.cancel(client(), io, { id: one(rest, 'batch id'), json });
    case 'retry':
      return batches.retry(client(), io, {
        id: one(rest, 'batch id'),
        watch: o.watch,
        json,
        ...(o['error-type'] ? { errorType: o['error-type'] } : {}),
      });
    case 'results': {
      if (o.format !== 'ndjson' && o.format !== 'csv') throw new UsageError('--format is ndjson or csv');
      return batches.results(client(), io, { id: one(rest, 'batch id'), format: o.format });
    }
    case 'clusters':
      return batches.clusters(client(), io, { id: one(rest, 'batch id'), json });
    case 'job-types':
      return batches.jobTypes(client(), io, { json });
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
    console.error(`batchworks: ${err.message}\n\n${USAGE}`);
    process.exitCode = ExitCode.usage;
  } else if (err instanceof BatchworksError) {
    console.error(`batchworks: ${err.message}`);
    for (const e of err.errors.slice(0, 20)) console.error(`  ${e.path}: ${e.message}`);
    process.exitCode = ExitCode.error;
  } else {
    console.error(`batchworks: ${toError(err).message}`);
    process.exitCode = ExitCode.error;
  }
}
