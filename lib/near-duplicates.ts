/**
 * Near-duplicate clusters from MinHash signatures. Two documents are near-duplicates
 * when their signatures agree on at least `threshold` of positions (estimated
 * Jaccard similarity of their word 3-shingles); clusters are the connected components
 * of that relation (union-find).
 *  - exact: every pair is compared (n ≤ exactMaxDocs; O(n²) but small n).
 *  - lsh:   only pairs that share a band of `rows` signature values in one of
 *           `bands` bands are compared (MinHash LSH), so cost grows with n, not n².
 *           With 32 × 4 a pair at similarity 0.5 is a candidate with probability
 *           1 − (1 − 0.5⁴)³² ≈ 0.87, at 0.7 ≈ 0.9999.
 */
import { fmix32 } from '../job-types/text/hash.js';
import { estimatedJaccard } from '../job-types/text/minhash.js';

export interface ClusterOptions {
  threshold: number;
  exactMaxDocs: number;
  bands: number;
  rows: number;
  /** Buckets larger than this are linked to their first member instead of pairwise. */
  maxBucketPairwise: number;
}

export const DEFAULT_CLUSTER_OPTIONS: ClusterOptions = Object.freeze({
  threshold: 0.5,
  exactMaxDocs: 2_000,
  bands: 32,
  rows: 4,
  maxBucketPairwise: 50,
});

export interface Cluster {
  /** Positions in the input array, ascending. */
  members: number[];
  /** Mean estimated Jaccard over the near-duplicate pairs found inside the cluster. */
  meanSimilarity: number;
}

export interface ClusterResult {
  method: 'exact' | 'lsh';
  comparedPairs: number;
  nearDuplicatePairs: number;
  /** Largest first, then by first member. */
  clusters: Cluster[];
}

/** 2²¹: positions fit below it, and a 32-bit key times it stays an exact double (< 2⁵³). */
const POSITION_SPACE = 2 ** 21;

class UnionFind {
  private readonly parent: Int32Array;
  private readonly size: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
    this.size = new Int32Array(n).fill(1);
  }
  find(x: number): number {
    let r = x;
    while (this.parent[r] !== r) {
      this.parent[r] = this.parent[this.parent[r]!]!;
      r = this.parent[r]!;
    }
    return r;
  }
  union(a: number, b: number): number {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return ra;
    if (this.size[ra]! < this.size[rb]!) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.size[ra]! += this.size[rb]!;
    return ra;
  }
}

export function clusterNearDuplicates(
  signatures: readonly Uint32Array[],
  options: Partial<ClusterOptions> = {},
  onProgress?: (done: number, total: number) => void,
): ClusterResult {
  const o = { ...DEFAULT_CLUSTER_OPTIONS, ...options };
  const n = signatures.length;
  const uf = new UnionFind(n);
  const edges: Array<[number, number, number]> = [];
  let compared = 0;
  const check = (a: number, b: number): boolean => {
    compared++;
    const j = estimatedJaccard(signatures[a]!, signatures[b]!);
    if (j < o.threshold) return false;
    edges.push([a, b, j]);
    uf.union(a, b);
    return true;
  };

  const method = n <= o.exactMaxDocs ? 'exact' : 'lsh';
  if (method === 'exact') {
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) check(a, b);
      if (a % 256 === 0) onProgress?.(a, n);
    }
  } else {
    if (n >= POSITION_SPACE) throw new Error(`at most ${POSITION_SPACE - 1} documents can be clustered at once`);
    const keyed = new Float64Array(n);
    const member = (k: number) => keyed[k]! % POSITION_SPACE;
    const bucketOf = (k: number) => Math.floor(keyed[k]! / POSITION_SPACE);
    for (let band = 0; band < o.bands; band++) {
      // (bucket key, position) packed in one exact double and sorted: runs of equal
      // keys are the band's buckets.
      for (let i = 0; i < n; i++) {
        let h = band;
        const sig = signatures[i]!;
        for (let r = 0; r < o.rows; r++) h = fmix32((h ^ sig[band * o.rows + r]!) + r);
        keyed[i] = h * POSITION_SPACE + i;
      }
      keyed.sort();
      let start = 0;
      while (start < n) {
        const key = bucketOf(start);
        let end = start + 1;
        while (end < n && bucketOf(end) === key) end++;
        if (end - start > 1) linkBucket(start, end, member);
        start = end;
      }
      onProgress?.(band + 1, o.bands);
    }
  }

  function linkBucket(start: number, end: number, member: (k: number) => number) {
    if (end - start <= o.maxBucketPairwise) {
      for (let x = start; x < end; x++) {
        for (let y = x + 1; y < end; y++) {
          const a = member(x);
          const b = member(y);
          if (uf.find(a) !== uf.find(b)) check(a, b);
        }
      }
      return;
    }
    // A huge bucket (many copies of one text): a star from its first member, and a
    // chain for those that do not match it, keeps the work linear.
    const first = member(start);
    for (let x = start + 1; x < end; x++) {
      const a = member(x);
      if (uf.find(a) === uf.find(first) || check(first, a)) continue;
      const prev = member(x - 1);
      if (uf.find(a) !== uf.find(prev)) check(prev, a);
    }
  }

  return { method, comparedPairs: compared, nearDuplicatePairs: edges.length, clusters: collect(uf, n, edges) };
}

function collect(uf: UnionFind, n: number, edges: ReadonlyArray<[number, number, number]>): Cluster[] {
  const byRoot = new Map<number, { members: number[]; sum: number; count: number }>();
  for (const [a, , j] of edges) {
    const root = uf.find(a);
    const c = byRoot.get(root) ?? { members: [], sum: 0, count: 0 };
    c.sum += j;
    c.count++;
    byRoot.set(root, c);
  }
  for (let i = 0; i < n; i++) byRoot.get(uf.find(i))?.members.push(i);
  return [...byRoot.values()]
    .map((c) => ({ members: c.members, meanSimilarity: Math.round((c.sum / c.count) * 1e4) / 1e4 }))
    .sort((x, y) => y.members.length - x.members.length || x.members[0]! - y.members[0]!);
}
