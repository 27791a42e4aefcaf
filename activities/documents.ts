/**
 * Batch-level analysis of a finished document.analyze batch: reads the documents'
 * MinHash signatures page by page from PostgreSQL, finds near-duplicate clusters
 * (lib/near-duplicates.ts) and stores them with a similarity summary.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { getBatchById } from '../db/batches.js';
import { listDocumentSignatures, saveBatchClusters, type DocumentSignatureRow } from '../db/batch-clusters.js';
import { DOCUMENT_ANALYZE } from '../job-types/document-analyze.js';
import { cosine, l2Normalise } from '../job-types/text/embedding.js';
import { decodeSignature } from '../job-types/text/minhash.js';
import { FailureTypes } from '../lib/names.js';
import { clusterNearDuplicates, DEFAULT_CLUSTER_OPTIONS } from '../lib/near-duplicates.js';
import type { ActivityDeps } from './index.js';

const PAGE = 2_000;

export interface SimilaritySummary {
  method: 'exact' | 'lsh';
  documents: number;
  /** Documents without a single word (no signature to compare). */
  emptyDocuments: number;
  clusters: number;
  documentsInClusters: number;
  largestCluster: number;
  nearDuplicatePairs: number;
  comparedPairs: number;
}

/** Mean and max cosine over all pairs of hashed TF-IDF vectors, IDF taken over this batch. */
function pairwiseCosine(embeddings: readonly number[][]): { mean: number; max: number } | undefined {
  const n = embeddings.length;
  if (n < 2) return undefined;
  const dims = embeddings[0]!.length;
  const df = new Float64Array(dims);
  for (const e of embeddings) for (let d = 0; d < dims; d++) if (e[d] !== 0) df[d]!++;
  const idf = Array.from(df, (x) => Math.log((1 + n) / (1 + x)) + 1);
  const vectors = embeddings.map((e) => l2Normalise(Float64Array.from(e, (x, d) => x * idf[d]!)));
  let sum = 0;
  let max = -1;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const c = cosine(vectors[a]!, vectors[b]!);
      sum += c;
      if (c > max) max = c;
    }
  }
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  return { mean: round(sum / ((n * (n - 1)) / 2)), max: round(max) };
}

export function createDocumentActivities({ sql, log }: ActivityDeps) {
  return {
    /** Idempotent: a repeated run recomputes and replaces the stored result. */
    async clusterBatchDocuments({ batchId }: { batchId: string }): Promise<SimilaritySummary> {
      const ctx = Context.current();
      const batch = await getBatchById(sql, batchId);
      if (!batch) throw ApplicationFailure.create({ type: FailureTypes.NotFound, nonRetryable: true, message: `batch ${batchId} no longer exists` });
      if (batch.jobType !== DOCUMENT_ANALYZE) {
        throw ApplicationFailure.create({ type: 'NotADocumentBatch', nonRetryable: true, message: `batch ${batchId} is a '${batch.jobType}' batch` });
      }
      const started = performance.now();
      const withEmbeddings = batch.succeededJobs <= DEFAULT_CLUSTER_OPTIONS.exactMaxDocs;
      const docs: DocumentSignatureRow[] = [];
      let emptyDocuments = 0;
      for (let afterSeq = -1; ; ) {
        const page = await listDocumentSignatures(sql, batchId, { afterSeq, limit: PAGE, withEmbeddings });
        for (const d of page) if (d.tokens > 0 && d.signature) docs.push(d);
        else emptyDocuments++;
        ctx.heartbeat({ read: docs.length + emptyDocuments });
        if (page.length < PAGE) break;
        afterSeq = page.at(-1)!.seq;
      }

      const result = clusterNearDuplicates(
        docs.map((d) => decodeSignature(d.signature)),
        {},
        (done, total) => ctx.heartbeat({ clustering: `${done}/${total}` }),
      );
      const cosineStats = result.method === 'exact' ? pairwiseCosine(docs.map((d) => d.embedding ?? [])) : undefined;
      const summary: SimilaritySummary = {
        method: result.method,
        documents: docs.length + emptyDocuments,
        emptyDocuments,
        clusters: result.clusters.length,
        documentsInClusters: result.clusters.reduce((s, c) => s + c.members.length, 0),
        largestCluster: result.clusters[0]?.members.length ?? 0,
        nearDuplicatePairs: result.nearDuplicatePairs,
        comparedPairs: result.comparedPairs,
      };
      const stored = {
        ...summary,
        similarity: 'estimated Jaccard of word 3-shingles (MinHash, 128 permutations)',
        threshold: DEFAULT_CLUSTER_OPTIONS.threshold,
        ...(result.method === 'lsh' ? { lsh: { bands: DEFAULT_CLUSTER_OPTIONS.bands, rows: DEFAULT_CLUSTER_OPTIONS.rows } } : {}),
        ...(cosineStats ? { cosine: { measure: 'hashed TF-IDF of word 1-2-grams, IDF over this batch', ...cosineStats } } : {}),
        durationMs: Math.round(performance.now() - started),
      };
      await sql.begin((tx) =>
        saveBatchClusters(tx, batchId, {
          method: result.method,
          summary: stored,
          clusters: result.clusters.map((c) => ({
            size: c.members.length,
            meanSimilarity: c.meanSimilarity,
            members: c.members.map((i) => ({ jobId: docs[i]!.jobId, index: docs[i]!.seq, id: docs[i]!.docId })),
          })),
        }),
      );
      log.info({ batchId, ...summary }, 'document clusters stored');
      return summary;
    },
  };
}
