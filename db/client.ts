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
  const sql: Sql = postgres(url, {
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
    ...({ socket: (o: SocketOptions) => (skipTypesOnceKnown(sql), connectNoDelay(o)) } as object),
  });
  return sql;
}

/**
 * postgres.js 3.4 (3.4.10 too) reads the server's array types as the first statement of
 * every new connection, and drops that statement's promise: when the backend is
 * terminated during it, the rejection is unhandled and Node ends the process
 * (porsager/postgres#1192, #1223, open). The chaos test that terminates every backend
 * lost its worker this way, about once in 160 terminations, and its batch stopped.
 * The types belong to the pool (its options, shared by its connections), so once one
 * connection has read them the others need not: a connection opened after that skips the
 * read, and only the pool's first connections, at start, still make it.
 */
function skipTypesOnceKnown(sql: Sql): void {
  if (sql.options.fetch_types && Object.keys((sql.options as unknown as { shared: { typeArrayMap: object } }).shared.typeArrayMap).length > 0) {
    (sql.options as { fetch_types: boolean }).fetch_types = false;
  }
}

interface SocketOptions {
  host: string[];
  port: number[];
  path?: string | false;
}

/**
 * postgres.js leaves Nagle's algorithm on. A message sent in several writes (COPY's
 * data then CopyDone, pipelined queries) then waits for the server's delayed ACK:
 * measured here, every COPY took 87 ms instead of 1 ms. This opens the same TCP (or
 * Unix socket) connection postgres.js would, with TCP_NODELAY set.
 */
function connectNoDelay(options: SocketOptions): Promise<net.Socket> {
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
