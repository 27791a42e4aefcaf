/**
 * A chunk's claim on the positions of the jobs it starts (db/chunk-claims.ts): taken when the
 * chunk begins, moved forward a window ahead of its lanes, and taken over by a later
 * try of the same chunk, which fences the older one off.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, type Info } from '@temporalio/activity';
import * as claims from '../db/chunk-claims.js';
import type { ChunkClaim } from '../db/chunk-claims.js';
import type { Sql } from '../db/client.js';
import { FailureTypes } from '../lib/names.js';
import { answered } from './failures.js';

/** The most positions a chunk claims ahead of its lanes. */
const MAX_CLAIM_WINDOW = 1_000;

/** The error of an attempt that may have run but whose outcome was never recorded. */
export const LOST_ATTEMPT_MESSAGE = 'the worker running this attempt stopped (or was timed out) before recording its outcome';

/** This try's claim on its chunk: the chunk is the activity (the same on every try), the owner this try. */
export function claimOf(info: Info, batchId: string): ChunkClaim {
  const { workflowExecution: run, activityId } = info;
  return { batchId, chunk: `${run?.workflowId}/${run?.runId}/${activityId}`, owner: randomUUID() };
}

/** This try lost the chunk's claim to a later try, which now does its work. */
export function superseded(claim: ChunkClaim): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureTypes.AttemptSuperseded,
    nonRetryable: true,
    message: `chunk ${claim.chunk} was taken over by a later try; this one stops`,
  });
}

export interface ClaimWindow {
  /**
   * Call before starting `jobs[index]`: `true`, synchronously, when it is claimed (and
   * the claim is moved on, without waiting, when half a window is left); otherwise a
   * promise that settles once the claim has moved, after which the caller must look
   * again (another lane may have taken that job meanwhile).
   */
  ready(index: number): true | Promise<void>;
  /** Waits for a claim write on its way. */
  settled(): Promise<void>;
}

/**
 * Opens the chunk's claim (see db/chunk-claims.ts openClaim) and keeps it a window ahead of
 * the lanes over `jobs` (in position order). The window starts at twice the lanes (at
 * least 32) and doubles, up to MAX_CLAIM_WINDOW, each time lanes had to wait for a
 * claim: a crash costs at most one window of jobs an attempt they may not have used.
 * A failed write (or a takeover) goes to `onError`; lanes are then to stop.
 *
 * The first window is claimed with the claim itself, for a retry round (`seqs`, its
 * positions known before its jobs are read) as for a first pass (`range`): a round that
 * claimed nothing at first had its lanes wait one more round trip before its first job.
 */
/** An opened claim: what an earlier try had claimed, and the window to track the lanes with. */
export interface ClaimWindows {
  prior: number | null;
  track(jobs: readonly { seq: number }[], onError: (err: unknown) => void): ClaimWindow;
}

export async function openClaimWindow(
  sql: Sql,
  claim: ChunkClaim,
  o: { lanes: number; range?: { fromSeq: number; toSeq: number } | undefined; seqs?: readonly number[] | undefined },
): Promise<ClaimWindows> {
  let window = Math.max(32, 2 * o.lanes);
  const opened = await answered(claims.openClaim(sql, claim, firstWindowThrough(o, window)));
  let claimedSeq = opened.through;
  return {
    prior: opened.prior,
    track(jobs, onError) {
      let claiming: Promise<void> | undefined;
      let stalled = false;
      const claimAhead = (index: number): Promise<void> =>
        (claiming ??= (async () => {
          const last = jobs[Math.min(jobs.length - 1, index + window)]!;
          try {
            // Unanswered, it would hold the lanes waiting on it, and the chunk, for good.
            if (!(await answered(claims.extendClaim(sql, claim, last.seq)))) throw superseded(claim);
            claimedSeq = Math.max(claimedSeq, last.seq);
          } catch (err) {
            onError(err);
          } finally {
            claiming = undefined;
            // Lanes ran out of claimed jobs while this write was on its way: claim more next time.
            if (stalled) window = Math.min(MAX_CLAIM_WINDOW, window * 2);
            stalled = false;
          }
        })());
      return {
        ready(index) {
          if (jobs[index]!.seq > claimedSeq) {
            stalled = true;
            return claimAhead(index);
          }
          if (jobs[Math.min(jobs.length - 1, index + (window >> 1))]!.seq > claimedSeq) void claimAhead(index);
          return true;
        },
        settled: async () => {
          await claiming;
        },
      };
    },
  };
}

/** The last position of the first window: of a range, or of a retry round's positions (in any order); -1 for none known. */
function firstWindowThrough(o: { range?: { fromSeq: number; toSeq: number } | undefined; seqs?: readonly number[] | undefined }, window: number): number {
  if (o.range) return Math.min(o.range.toSeq - 1, o.range.fromSeq + window - 1);
  if (!o.seqs || o.seqs.length === 0) return -1;
  const sorted = Float64Array.from(o.seqs).sort();
  return sorted[Math.min(sorted.length, window) - 1]!;
}
