import DataLoader from 'dataloader';
import { withDeadline } from './deadline.js';

export interface GroupCommitOptions<K> {
  /** Statements of this kind running at once; calls made meanwhile wait and go together in the next. */
  maxInFlight: number;
  /** The most calls one statement takes. */
  maxBatch: number;
  /**
   * How long one statement may go unanswered. Its calls then fail with `timeout()`'s
   * error and its place goes to the next statement: one that hangs on a connection the
   * server dropped (30 s and more, seen in the chaos test) holds up nobody else.
   */
  timeoutMs: number;
  timeout: () => Error;
  /**
   * The row a key writes. Keys of the same row in one statement (DataLoader's cache is
   * off, so a key may come twice) are written in rounds, one statement each, in the
   * order they were made: `run` only ever sees each row once.
   */
  rowOf: (key: K) => string;
}

/**
 * Group commit: calls of one kind of statement (a job's attempt starting, a job ending)
 * made while `maxInFlight` such statements are running are written together, by one
 * statement, when a place frees up. When the database keeps up, a call goes out at
 * once, alone (it waits only for the calls of the same tick); under load, each statement
 * carries all that arrived while the ones before it ran. One statement instead of many
 * saves the database a transaction (and a WAL flush) per call, and the worker a socket
 * write (a system call, dear under this machine's virtualization) per call.
 *
 * `run` gets the keys of one statement, each of a different row, and returns, in their
 * order, each one's value or an Error for that key alone.
 */
export function groupCommit<K, V>(run: (keys: readonly K[]) => Promise<(V | Error)[]>, options: GroupCommitOptions<K>): (key: K) => Promise<V> {
  let running = 0;
  const waiting: (() => void)[] = [];
  const start = (dispatch: () => void) => {
    running++;
    // The calls made in the rest of this tick join the statement.
    process.nextTick(dispatch);
  };
  const loader = new DataLoader<K, V>(
    async (keys) => {
      try {
        return await withDeadline(inRounds(keys, options.rowOf, run), options.timeoutMs, options.timeout);
      } finally {
        running--;
        const next = waiting.shift();
        if (next) start(next);
      }
    },
    {
      cache: false,
      maxBatchSize: options.maxBatch,
      batchScheduleFn: (dispatch) => {
        if (running < options.maxInFlight) start(dispatch);
        else waiting.push(dispatch);
      },
    },
  );
  return (key) => loader.load(key);
}

async function inRounds<K, V>(keys: readonly K[], rowOf: (key: K) => string, run: (keys: readonly K[]) => Promise<(V | Error)[]>): Promise<(V | Error)[]> {
  const rounds: { key: K; at: number }[][] = [];
  const seen = new Map<string, number>();
  keys.forEach((key, at) => {
    const row = rowOf(key);
    const round = seen.get(row) ?? 0;
    seen.set(row, round + 1);
    (rounds[round] ??= []).push({ key, at });
  });
  if (rounds.length === 1) return run(keys);
  const values: (V | Error)[] = new Array<V | Error>(keys.length);
  for (const round of rounds) {
    const answered = await run(round.map((r) => r.key));
    round.forEach((r, i) => (values[r.at] = answered[i]!));
  }
  return values;
}
