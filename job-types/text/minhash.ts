/**
 * MinHash signatures over word 3-shingles: for each of 128 seeded hash functions, the
 * smallest hash of any shingle. Two documents' signatures agree at a position with
 * probability equal to the Jaccard similarity of their shingle sets.
 */
import { fmix32, hashString, seeds } from './hash.js';
import { ngrams } from './tokens.js';

export const MINHASH_PERMUTATIONS = 128;
export const MINHASH_SHINGLE_WORDS = 3;
export const MINHASH_SEED = 0x5eed;
const PERMUTATION_SEEDS = seeds(MINHASH_PERMUTATIONS, MINHASH_SEED);

/** Distinct shingle hashes; a text shorter than one shingle is a single shingle of all its words. */
export function shingleHashes(tokens: readonly string[]): Uint32Array {
  if (tokens.length === 0) return new Uint32Array(0);
  const shingles = tokens.length < MINHASH_SHINGLE_WORDS ? [tokens.join(' ')] : ngrams(tokens, MINHASH_SHINGLE_WORDS);
  const set = new Set<number>();
  for (const s of shingles) set.add(hashString(s, MINHASH_SEED));
  return Uint32Array.from(set);
}

export function minhashSignature(tokens: readonly string[]): Uint32Array {
  const sig = new Uint32Array(MINHASH_PERMUTATIONS).fill(0xffffffff);
  for (const h of shingleHashes(tokens)) {
    for (let i = 0; i < MINHASH_PERMUTATIONS; i++) {
      const v = fmix32(h ^ PERMUTATION_SEEDS[i]!);
      if (v < sig[i]!) sig[i] = v;
    }
  }
  return sig;
}

/** Share of positions where two signatures agree: an estimate of Jaccard similarity. */
export function estimatedJaccard(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** Signatures travel as base64 of their little-endian bytes (684 characters instead of ~1,400). */
export const encodeSignature = (sig: Uint32Array): string =>
  Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString('base64');

export function decodeSignature(text: string): Uint32Array {
  const bytes = Buffer.from(text, 'base64');
  const out = new Uint32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readUInt32LE(i * 4);
  return out;
}
