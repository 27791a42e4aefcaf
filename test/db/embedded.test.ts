/**
 * The embedded PostgreSQL of `npm start` (db/embedded.ts): the real migrations through
 * dbmate, db/ functions through postgres.js, several clients at once, and the data
 * still there after a restart on the same folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertBatch } from '../../db/batches.js';
import { createSql } from '../../db/client.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../db/embedded.js';
import { migrate } from '../../db/migrate.js';
import { countJobsByStatus } from '../../db/jobs.js';
import { findPrincipalByKey, findTenantByName, insertApiKey, insertTenant } from '../../db/tenants.js';

let dir: string;
let pg: EmbeddedPostgres;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'batchworks-embedded-'));
  pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pglite') });
});
afterAll(async () => {
  await pg?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('embedded PostgreSQL (PGlite over the wire protocol)', () => {
  it('takes the real migrations, then serves db/ functions; a second migrate finds nothing to do', async () => {
    expect((await migrate(pg.url)).output).toContain('Applied:');
    expect((await migrate(pg.url)).output).not.toContain('Applied:');
    const sql = createSql(pg.url, { max: 1 });
    try {
      const tenant = await insertTenant(sql, 'embedded');
      const { key } = await insertApiKey(sql, tenant.id);
      expect(await findTenantByName(sql, 'embedded')).toMatchObject({ id: tenant.id, name: 'embedded' });
      expect(await findPrincipalByKey(sql, key)).toMatchObject({ tenantId: tenant.id, tenantName: 'embedded' });
    } finally {
      await sql.end();
    }
  });

  it('ingests a batch with COPY FROM STDIN inside a transaction (answered by the listener, not the backend)', async () => {
    const sql = createSql(pg.url, { max: 1 });
    try {
      const tenant = (await findTenantByName(sql, 'embedded'))!;
      const batch = {
        tenantId: tenant.id,
        createdBy: null,
        jobType: 'sleep',
        mode: 'activity' as const,
        concurrency: 10,
        maxRetries: 3,
        retryInitialIntervalMs: 100,
        retryBackoffCoefficient: 2,
        retryMaximumIntervalMs: 1_000,
        workflowIdOf: (id: string) => `batch-${id}`,
      };
      const inputs = Array.from({ length: 2_500 }, (_, i) => ({ ms: i, note: 'tab\there \\ backslash' }));
      const row = await sql.begin((tx) => insertBatch(tx, batch, inputs));
      expect(row.totalJobs).toBe(2_500);
      expect((await countJobsByStatus(sql, row.id)).pending).toBe(2_500);
      const [last] = await sql<{ input: unknown }[]>`select input from jobs where batch_id = ${row.id} and seq = 2499`;
      expect(last?.input).toEqual(inputs[2_499]);
      // A stream that fails aborts the COPY and the transaction; the connection stays usable.
      const failing = async function* () {
        yield [{ ms: 1 }];
        throw new Error('input stream broke');
      };
      await expect(sql.begin((tx) => insertBatch(tx, batch, failing()))).rejects.toThrow();
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await sql.end();
    }
  });

  it('keeps clients apart: three pools (start script, worker, API) with queries and transactions at once', async () => {
    const pools = [0, 1, 2].map(() => createSql(pg.url, { max: 2 }));
    try {
      const answers = await Promise.all(
        pools.flatMap((sql, p) =>
          Array.from({ length: 150 }, async (_, k) => {
            const n = p * 1_000 + k;
            if (k % 3 === 0) {
              // A transaction: other clients' statements must not run inside it.
              return sql.begin(async (tx) => {
                const t = await insertTenant(tx, `t${n}`);
                return (await findTenantByName(tx, `t${n}`))?.id === t.id ? n : -n;
              });
            }
            const [row] = await sql<{ n: number; s: string }[]>`select ${n}::int as n, ${`s${n}`}::text as s`;
            return row?.n === n && row.s === `s${n}` ? n : -n;
          }),
        ),
      );
      // Every client got its own answer (the pglite-socket multiplexer fails here: interleaved Bind/Execute).
      expect(answers.filter((a) => a < 0)).toEqual([]);
      expect(answers).toHaveLength(450);
    } finally {
      await Promise.all(pools.map((s) => s.end()));
    }
  });

  it('a client that disconnects inside a transaction does not hold the others', async () => {
    const quitter = createSql(pg.url, { max: 1 });
    const other = createSql(pg.url, { max: 1 });
    try {
      const left = quitter
        .begin(async (tx) => {
          await insertTenant(tx, 'rolled-back');
          // The connection dies mid-transaction.
          await quitter.end({ timeout: 0 });
          await tx`select 1`;
        })
        .catch(() => 'gone');
      expect(await left).toBe('gone');
      expect(await findTenantByName(other, 'rolled-back')).toBeUndefined();
      expect(await findTenantByName(other, 'embedded')).toBeDefined();
    } finally {
      await other.end();
    }
  });

  it('keeps its data across a restart on the same folder', async () => {
    await pg.close();
    pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pglite') });
    const sql = createSql(pg.url, { max: 1 });
    try {
      expect(await findTenantByName(sql, 'embedded')).toBeDefined();
      expect((await migrate(pg.url)).output).not.toContain('Applied:');
    } finally {
      await sql.end();
    }
  });
});
