/**
 * An embedded PostgreSQL for `npm start` without a server: PGlite (PostgreSQL compiled
 * to WASM, one backend, one session) behind a loopback TCP listener that speaks the
 * wire protocol, so postgres.js and dbmate connect to it like to any server.
 *
 * Why not @electric-sql/pglite-socket's PGLiteSocketServer: its multiplexer queues
 * single protocol messages, so with several clients one client's Bind can land between
 * another's Bind and Execute. Measured with three one-connection pools (the start
 * script, the worker, the API): `portal "" does not exist` and a query answered with
 * another client's row. Here a client owns the backend from its first message until
 * the backend says it is idle again (ReadyForQuery 'I'): a whole extended-protocol
 * round, a COPY, or a transaction runs without others interleaving; the rest wait in
 * arrival order. What stays shared is session state (settings, advisory locks), which
 * this code base does not rely on between connections.
 *
 * PGlite's backend cannot take COPY FROM STDIN over the wire (it exits: "Program
 * terminated with exit(1)"), and job ingest (db/batches.ts) is a COPY. So that one
 * statement is answered here: the CopyData is collected and handed to PGlite's own
 * COPY … FROM '/dev/blob'.
 */
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { PGlite } from '@electric-sql/pglite';

export interface EmbeddedPostgres {
  /** postgres://… of the listener; the database is PGlite's only one, `postgres`. */
  url: string;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const GSS_REQUEST = 80877104;

/** `copy <target> from stdin` as postgres.js's `.writable()` sends it (simple query protocol). */
const COPY_FROM_STDIN = /^\s*copy\s+([\s\S]+?)\s+from\s+stdin\s*;?\s*$/i;

function backendMessage(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}
const cstring = (s: string) => Buffer.from(`${s}\0`, 'utf8');
const readyForQuery = (status: string) => backendMessage('Z', Buffer.from(status, 'latin1'));
function errorResponse(err: unknown): Buffer {
  const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : 'XX000';
  const message = err instanceof Error ? err.message : String(err);
  return backendMessage('E', Buffer.concat([Buffer.from('S'), cstring('ERROR'), Buffer.from('V'), cstring('ERROR'), Buffer.from('C'), cstring(code), Buffer.from('M'), cstring(message), Buffer.from([0])]));
}

/** The transaction status of the last ReadyForQuery in a backend answer, if it has one. */
function lastReadyStatus(out: Uint8Array): string | undefined {
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  let status: string | undefined;
  for (let at = 0; at + 5 <= view.length; ) {
    const length = view.readInt32BE(at + 1);
    if (view[at] === 0x5a && length === 5 && at + 5 < view.length) status = String.fromCharCode(view[at + 5]!);
    at += 1 + length;
  }
  return status;
}

export async function startEmbeddedPostgres(opts: { dataDir: string; host?: string; port?: number }): Promise<EmbeddedPostgres> {
  await mkdir(opts.dataDir, { recursive: true });
  const db = await PGlite.create(opts.dataDir);
  let owner: net.Socket | undefined;
  const waiting: Array<{ socket: net.Socket; go: () => void }> = [];

  const acquire = (socket: net.Socket) =>
    owner === undefined || owner === socket
      ? ((owner = socket), Promise.resolve())
      : new Promise<void>((go) => waiting.push({ socket, go }));
  const release = () => {
    owner = undefined;
    const next = waiting.shift();
    if (next) {
      owner = next.socket;
      next.go();
    }
  };
  /** A client gone while owning the backend (mid-transaction, say) must not keep it from the next one. */
  const drop = async (socket: net.Socket) => {
    if (owner !== socket) return;
    if (db.isInTransaction()) await db.exec('rollback').catch(() => {});
    release();
  };

  const serve = (socket: net.Socket) => {
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    let started = false;
    let chain = Promise.resolve();
    /** Set while a COPY FROM STDIN is being collected: its target and the data so far. */
    let copying: { target: string; chunks: Buffer[] } | undefined;
    const copyMessage = async (message: Buffer) => {
      const c = copying!;
      if (message[0] === 0x64 /* CopyData */) return void c.chunks.push(message.subarray(5));
      if (message[0] !== 0x63 /* CopyDone */ && message[0] !== 0x66 /* CopyFail */) return; // Flush, Sync: ignored in copy-in, as by PostgreSQL
      copying = undefined;
      let answer: Buffer;
      if (message[0] === 0x66) {
        answer = errorResponse(Object.assign(new Error('COPY from stdin failed'), { code: '57014' }));
      } else {
        try {
          const result = await db.query(`copy ${c.target} from '/dev/blob'`, [], { blob: new Blob(c.chunks) });
          answer = backendMessage('C', cstring(`COPY ${result.affectedRows ?? 0}`));
        } catch (err) {
          answer = errorResponse(err);
        }
      }
      const status = answer[0] === 0x45 /* E */ ? (db.isInTransaction() ? 'E' : 'I') : db.isInTransaction() ? 'T' : 'I';
      if (!socket.destroyed) socket.write(Buffer.concat([answer, readyForQuery(status)]));
      if (status === 'I') release();
    };
    const run = async (message: Buffer) => {
      await acquire(socket);
      if (copying) return copyMessage(message);
      const copy = message[0] === 0x51 /* Query */ ? COPY_FROM_STDIN.exec(message.subarray(5, message.length - 1).toString('utf8')) : null;
      if (copy) {
        copying = { target: copy[1]!, chunks: [] };
        // CopyInResponse: text format, no per-column formats (postgres.js reads none).
        if (!socket.destroyed) socket.write(backendMessage('G', Buffer.from([0, 0, 0])));
        return;
      }
      const out = await db.runExclusive(() => db.execProtocolRaw(message));
      if (!socket.destroyed) socket.write(out);
      if (lastReadyStatus(out) === 'I') release();
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        // Before start-up, messages have no type byte: Int32 length, Int32 code.
        const header = started ? 5 : 8;
        if (buffer.length < header) return;
        const length = started ? 1 + buffer.readInt32BE(1) : buffer.readInt32BE(0);
        if (buffer.length < length) return;
        const message = buffer.subarray(0, length);
        buffer = buffer.subarray(length);
        if (!started) {
          const code = message.readInt32BE(4);
          if (code === SSL_REQUEST || code === GSS_REQUEST) {
            socket.write('N');
            continue;
          }
          if (code === CANCEL_REQUEST) {
            socket.end();
            return;
          }
          started = true;
        } else if (message[0] === 0x58 /* Terminate */) {
          socket.end();
          return;
        }
        const own = Buffer.from(message);
        chain = chain.then(() => run(own)).catch(() => void socket.destroy());
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      // Still queued: it never gets the backend (its pending messages are dropped with it).
      const i = waiting.findIndex((w) => w.socket === socket);
      if (i >= 0) waiting.splice(i, 1);
      void chain.then(() => drop(socket));
    });
  };

  const server = net.createServer(serve);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return {
    url: `postgres://postgres@${host}:${port}/postgres`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await db.close();
    },
  };
}
