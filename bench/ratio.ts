/**
 * The W3/W1 line of `npm run bench`: W3's rate against W1's in one mode, from the medians
 * of their runs (with --repeat), each round's own ratio, the CPU W3 used for W1's, and
 * the highest ratio W3's backoff leaves room for in that hour (`backoffCeiling`).
 */
import type { CpuSeconds } from './setup.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Collects W1's and W3's runs of one mode; `line` is undefined unless both ran.
 * `backoffChainMs`: the backoff a W3 job failing twice waits in all (100 + 200 ms).
 */
export function w3w1(mode: string, repeat: number, backoffChainMs: number) {
  const rates = { W1: [] as number[], W3: [] as number[] };
  const w1Seconds: number[] = [];
  /** CPU seconds of all processes per run (worker, dev server, PostgreSQL, bench and API). */
  const cpu = { W1: [] as number[], W3: [] as number[] };
  return {
    add(name: string, result: { jobs: number; jobsPerSecond: number; cpuSeconds: CpuSeconds }) {
      if (name !== 'W1' && name !== 'W3') return;
      rates[name].push(result.jobsPerSecond);
      if (name === 'W1') w1Seconds.push(result.jobs / result.jobsPerSecond);
      const c = result.cpuSeconds;
      cpu[name].push(c.worker + c.devServer + c.postgres + c.benchAndApi);
    },
    line() {
      if (rates.W1.length === 0 || rates.W3.length === 0) return undefined;
      return {
        workload: 'W3/W1',
        mode,
        ratio: Number((median(rates.W3) / median(rates.W1)).toFixed(2)),
        ...(repeat > 1 ? { of: 'medians', w1JobsPerSecond: rates.W1, w3JobsPerSecond: rates.W3 } : {}),
        // Per round (a W1 and a W3 run next to each other), how far the ratio moves with the
        // machine's speed; and the CPU W3 used for W1's (1.2 would be its share of attempts).
        ...(repeat > 1 && rates.W1.length === rates.W3.length ? { perRound: rates.W3.map((w3, i) => Number((w3 / rates.W1[i]!).toFixed(2))) } : {}),
        cpuRatio: Number((median(cpu.W3) / median(cpu.W1)).toFixed(2)),
        // W3 holds all of W1's work, and its last chunk's failing jobs (every tenth job
        // fails twice) wait out the whole backoff after it: W3 takes at least W1's time
        // plus the backoff, even if its 20,000 retries and 10,000 failures cost nothing.
        // A bound of the hour, not of the engine: the faster W1 runs, the lower it is.
        backoffCeiling: Number((median(w1Seconds) / (median(w1Seconds) + backoffChainMs / 1000)).toFixed(2)),
      };
    },
  };
}
