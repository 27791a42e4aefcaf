/**
 * Groups near-duplicate documents by their signatures: MinHash (share of equal
 * positions estimates Jaccard similarity) or an embedding (cosine similarity).
 * Pairwise, so callers bound the input; groups are the connected components.
 */
export interface Signature {
  id: string;
  minhash: number[] | null;
  embedding: number[] | null;
}

export const DEFAULT_THRESHOLDS = { minhash: 0.8, cosine: 0.95 } as const;

function minhashSimilarity(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  if (n === 0) return 0;
  let equal = 0;
  for (let i = 0; i < n; i++) if (a[i] === b[i]) equal++;
  return equal / n;
}

function cosine(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

function similar(a: Signature, b: Signature, t: typeof DEFAULT_THRESHOLDS): boolean {
  if (a.minhash && b.minhash) return minhashSimilarity(a.minhash, b.minhash) >= t.minhash;
  if (a.embedding && b.embedding) return cosine(a.embedding, b.embedding) >= t.cosine;
  return false;
}

/** Clusters of two or more ids, each sorted, largest first. */
export function groupNearDuplicates(docs: readonly Signature[], t = DEFAULT_THRESHOLDS): string[][] {
  const parent = docs.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  for (let i = 0; i < docs.length; i++) {
    for (let j = i + 1; j < docs.length; j++) {
      if (find(i) !== find(j) && similar(docs[i]!, docs[j]!, t)) parent[find(i)] = find(j);
    }
  }
  const groups = new Map<number, string[]>();
  docs.forEach((d, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), d.id]);
  });
  return [...groups.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort())
    .sort((a, b) => b.length - a.length || a[0]!.localeCompare(b[0]!));
}
