/**
 * The pool (db/client.ts) reads the server's array types once, not on every new
 * connection: postgres.js drops that read's promise, so a backend terminated during it
 * ended the whole process (porsager/postgres#1192). Seen through a TCP proxy that counts
 * the read in what the pool sends.
 */
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSql } from '../../db/client.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

/** A proxy to the database that counts the connections made and closed, and the array-type reads sent through it. */
async function countingProxy(target: URL) {
  const seen = { connections: 0, closed: 0, typeReads: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    seen.connections++;
    const upstream = net.connect({ host: target.hostname, port: Number(target.port || 5432) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => (client.destroy(), upstream.destroy()));
    }
    client.on('close', () => seen.closed++);
    client.on('data', (chunk: Buffer) => {
      if (chunk.includes("a.typcategory = 'A'")) seen.typeReads++;
    });
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    seen,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

it('a connection opened after the pool has read the array types does not read them again', async () => {
  const proxy = await countingProxy(new URL(h.databaseUrl));
  const sql = createSql(proxy.url, { max: 2 });
  type Row = { pid: number; xs: number[] };
  try {
    // An array parameter and an array result: the types the read is for.
    const [first] = await sql<Row[]>`select pg_backend_pid() as pid, ${[1, 2, 3]}::int[] as xs`;
    expect(first!.xs).toEqual([1, 2, 3]);
    expect(proxy.seen).toMatchObject({ connections: 1, typeReads: 1 });

    // Two statements at once: the pool opens its second connection.
    const two = await Promise.all([0, 1].map(() => sql<Row[]>`select pg_backend_pid() as pid, ${[4, 5]}::int[] as xs, pg_sleep(0.2)`));
    expect(new Set(two.map(([r]) => r!.pid)).size).toBe(2);
    expect(two.map(([r]) => r!.xs)).toEqual([[4, 5], [4, 5]]);
    expect(proxy.seen).toMatchObject({ connections: 2, typeReads: 1 });

    // Both backends terminated; once the pool has seen its connections close, its next statement opens a new one.
    await h.sql`select pg_terminate_backend(pid) from pg_stat_activity where pid in ${h.sql(two.map(([r]) => r!.pid))}`;
    while (proxy.seen.closed < 2) await delay(10);
    await delay(50);
    const [again] = await sql<Row[]>`select pg_backend_pid() as pid, ${[6]}::int[] as xs`;
    expect(two.map(([r]) => r!.pid)).not.toContain(again!.pid);
    // Arrays still go and come back as arrays, without another read.
    expect(again!.xs).toEqual([6]);
    expect(proxy.seen).toMatchObject({ connections: 3, typeReads: 1 });
  } finally {
    await sql.end({ timeout: 1 });
    await proxy.close();
  }
});
