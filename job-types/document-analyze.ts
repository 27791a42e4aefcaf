/**
 * document.analyze: counts, a script/language hint, a lexical embedding and a MinHash
 * signature per document. When a batch of them ends, activities/documents.ts finds
 * the batch's near-duplicates from the signatures.
 */
import { z } from 'zod';
import { defineJobType } from './job-type.js';
import { EMBEDDING_DIMENSIONS, EMBEDDING_KIND, hashedTfVector } from './text/embedding.js';
import { encodeSignature, MINHASH_PERMUTATIONS, MINHASH_SEED, MINHASH_SHINGLE_WORDS, minhashSignature } from './text/minhash.js';
import { detectScript } from './text/script.js';
import { countCharacters, tokenize } from './text/tokens.js';

export const DOCUMENT_ANALYZE = 'document.analyze';
export const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** What the clustering activity reads back from a job's output. */
export interface DocumentAnalysis {
  id: string | null;
  characters: number;
  bytes: number;
  tokens: number;
  uniqueTokens: number;
  script: ReturnType<typeof detectScript>;
  embedding: { kind: string; dimensions: number; values: number[] };
  minhash: { kind: string; permutations: number; seed: number; signature: string };
}

const round = (x: number) => Math.round(x * 1e5) / 1e5;

export function analyzeDocument(text: string, id?: string): DocumentAnalysis {
  const tokens = tokenize(text);
  return {
    id: id ?? null,
    characters: countCharacters(text),
    bytes: Buffer.byteLength(text, 'utf8'),
    tokens: tokens.length,
    uniqueTokens: new Set(tokens).size,
    script: detectScript(text, tokens),
    embedding: { kind: EMBEDDING_KIND, dimensions: EMBEDDING_DIMENSIONS, values: Array.from(hashedTfVector(tokens), round) },
    minhash: {
      kind: `minhash-word-${MINHASH_SHINGLE_WORDS}-shingles`,
      permutations: MINHASH_PERMUTATIONS,
      seed: MINHASH_SEED,
      signature: encodeSignature(minhashSignature(tokens)),
    },
  };
}

export const documentAnalyzeJobType = defineJobType({
  name: DOCUMENT_ANALYZE,
  description:
    'Token and character counts, a script/language hint, a lexical embedding (hashed TF of word 1-2-grams, 256 dimensions, L2-normalised; not a language model) and a MinHash signature. A finished batch gets near-duplicate clusters at GET /v1/batches/:id/clusters.',
  input: z
    .object({
      text: z.string().refine((t) => Buffer.byteLength(t, 'utf8') <= MAX_DOCUMENT_BYTES, {
        message: `text must be at most ${MAX_DOCUMENT_BYTES} bytes (1 MiB) of UTF-8`,
      }),
      id: z.string().min(1).max(200).optional(),
    })
    .strict(),
  policy: {
    maxRetries: 2,
    backoff: { initialIntervalMs: 500, coefficient: 2, maximumIntervalMs: 10_000 },
    timeoutMs: 60_000,
    heartbeatTimeoutMs: 30_000,
  },
  async handler(input) {
    return analyzeDocument(input.text, input.id);
  },
});
