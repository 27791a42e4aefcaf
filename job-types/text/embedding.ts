/**
 * A lexical embedding: word unigrams and bigrams hashed into a fixed number of
 * dimensions (the "hashing trick", with a hash-derived sign so collisions cancel
 * rather than pile up), weighted by sublinear term frequency (1 + ln tf), then
 * L2-normalised. It is the TF half of hashed TF-IDF: a single document cannot know
 * corpus frequencies, so the batch-level similarity applies IDF over the batch.
 * It measures shared wording, not meaning; it is not a language-model embedding.
 */
import { hashString } from './hash.js';
import { ngrams } from './tokens.js';

export const EMBEDDING_DIMENSIONS = 256;
export const EMBEDDING_KIND = 'hashed-tf-word-1-2-grams';
const SEED = 0x7f4a7c15;

export function hashedTfVector(tokens: readonly string[], dims = EMBEDDING_DIMENSIONS): Float64Array {
  const tf = new Map<string, number>();
  for (const n of [1, 2]) for (const g of ngrams(tokens, n)) tf.set(g, (tf.get(g) ?? 0) + 1);
  const v = new Float64Array(dims);
  for (const [term, count] of tf) {
    const h = hashString(term, SEED);
    const sign = h & 0x80000000 ? -1 : 1;
    v[h % dims]! += sign * (1 + Math.log(count));
  }
  return l2Normalise(v);
}

export function l2Normalise(v: Float64Array): Float64Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}
