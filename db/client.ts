import net from 'node:net';
import postgres from 'postgres';

export type Sql = postgres.Sql;
/** A pool or a transaction: every db/ function takes one of these first. */
export type Db = postgres.Sql | postgres.TransactionSql;

/**
 * A postgres.js pool. Column names come back camelCased; JSON values are left as
 * they were written (postgres.camel would rename keys inside jsonb too).
 */
export function createSql(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    // postgres.js waits 30 s by default. A connection opened while the server was
    // terminating backends (the chaos test) sat in its startup until then, and every
    // statement queued behind it: a local-mode attempt (no heartbeat to cut it short)
    // waited the whole 30 s, again and again.
    connect_timeout: 5,
    onnotice: () => {},
    transform: { column: { from: postgres.toCamel, to: postgres.fromCamel }, undefined: null },
    connection: { application_name: 'batchworks' },
    // `socket` is a documented option that postgres.js's type definitions lack.
    ...({ socket: connectNoDelay } as object),
  });
}

/**
 * postgres.js leaves Nagle's algorithm on. A message sent in several writes (COPY's
 * data then CopyDone, pipelined queries) then waits for the server's delayed ACK:
 * measured here, every COPY took 87 ms instead of 1 ms. This opens the same TCP (or
 * Unix socket) connection postgres.js would, with TCP_NODELAY set.
 */
function connectNoDelay(options: { host: string[]; port: number[]; path?: string | false }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = options.path
      ? net.connect(options.path)
      : net.connect({ host: options.host[0] ?? '127.0.0.1', port: options.port[0] ?? 5432, noDelay: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
