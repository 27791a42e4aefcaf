/**
 * A synthetic corpus with known near-duplicates: distinct "base" documents drawn
 * from a fixed vocabulary, and variants of some of them with a few words replaced,
 * deleted or inserted. Deterministic (seeded), so figures are reproducible.
 */
export interface CorpusDoc {
  id: string;
  text: string;
  /** Documents with the same group are near-duplicates by construction. */
  group: number;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vo', 'si', 'pe', 'du', 'ga', 'ho', 'ze', 'bi', 'fu', 'ny'];

export function makeCorpus(opts: { bases: number; variantsOf: number; variantsEach: number; words?: number; seed?: number }): CorpusDoc[] {
  const rand = mulberry32(opts.seed ?? 42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const vocabulary = Array.from({ length: 5_000 }, (_, i) => `${pick(SYLLABLES)}${pick(SYLLABLES)}${pick(SYLLABLES)}${i % 7 === 0 ? pick(SYLLABLES) : ''}`);
  const length = opts.words ?? 80;
  const docs: CorpusDoc[] = [];
  for (let g = 0; g < opts.bases; g++) {
    const words = Array.from({ length }, () => pick(vocabulary));
    docs.push({ id: `b${g}`, text: words.join(' '), group: g });
    if (g >= opts.variantsOf) continue;
    for (let v = 0; v < opts.variantsEach; v++) {
      // 2–6 % of the words edited: a light rewrite, the kind of copy to be caught.
      const edits = Math.max(1, Math.round(length * (0.02 + rand() * 0.04)));
      const copy = [...words];
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * copy.length);
        const kind = rand();
        if (kind < 0.6) copy[at] = pick(vocabulary);
        else if (kind < 0.8) copy.splice(at, 1);
        else copy.splice(at, 0, pick(vocabulary));
      }
      docs.push({ id: `b${g}v${v}`, text: copy.join(' '), group: g });
    }
  }
  return docs;
}

/** Pairs (i < j) of positions that are near-duplicates, by ground truth or by clusters. */
export function pairsOf(groups: ReadonlyArray<readonly number[]>): Set<string> {
  const out = new Set<string>();
  for (const members of groups) {
    const sorted = [...members].sort((a, b) => a - b);
    for (let x = 0; x < sorted.length; x++) for (let y = x + 1; y < sorted.length; y++) out.add(`${sorted[x]}:${sorted[y]}`);
  }
  return out;
}

export function precisionRecall(truth: Set<string>, found: Set<string>): { precision: number; recall: number; truePairs: number; foundPairs: number } {
  let hit = 0;
  for (const p of found) if (truth.has(p)) hit++;
  return {
    precision: found.size === 0 ? 1 : hit / found.size,
    recall: truth.size === 0 ? 1 : hit / truth.size,
    truePairs: truth.size,
    foundPairs: found.size,
  };
}

export function truthGroups(docs: readonly CorpusDoc[]): number[][] {
  const byGroup = new Map<number, number[]>();
  docs.forEach((d, i) => byGroup.set(d.group, [...(byGroup.get(d.group) ?? []), i]));
  return [...byGroup.values()].filter((m) => m.length > 1);
}
