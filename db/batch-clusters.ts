import type { Db } from './client.js';

export interface DocumentSignatureRow {
  jobId: string;
  seq: number;
  docId: string | null;
  tokens: number;
  signature: string;
  /** Only when asked for (small batches compare embeddings too). */
  embedding: number[] | null;
}

/** A page of a batch's analysed documents (succeeded jobs), in job order; only what clustering needs. */
export async function listDocumentSignatures(
  sql: Db,
  batchId: string,
  opts: { afterSeq: number; limit: number; withEmbeddings: boolean },
): Promise<DocumentSignatureRow[]> {
  return sql<DocumentSignatureRow[]>`
    select id as job_id,
      seq,
      output->>'id' as doc_id,
      (output->>'tokens')::int as tokens,
      output#>>'{minhash,signature}' as signature,
      case when ${opts.withEmbeddings}::boolean then output#>'{embedding,values}' end as embedding
    from jobs
    where batch_id = ${batchId}
      and status = 'succeeded'
      and seq > ${opts.afterSeq}
    order by seq
    limit ${opts.limit}
  `;
}

export interface ClusterMember {
  jobId: string;
  index: number;
  id: string | null;
}

export interface NewCluster {
  size: number;
  meanSimilarity: number;
  members: ClusterMember[];
}

const INSERT_PAGE = 2_000;

/** Replaces the batch's similarity summary and clusters (so a repeated run rewrites, never duplicates). */
export async function saveBatchClusters(
  sql: Db,
  batchId: string,
  result: { method: 'exact' | 'lsh'; summary: Record<string, unknown>; clusters: readonly NewCluster[] },
): Promise<void> {
  await sql`
    delete from batch_similarity
    where batch_id = ${batchId}
  `;
  await sql`
    insert into batch_similarity (batch_id, method, summary)
    values (${batchId}, ${result.method}, ${sql.json(result.summary as never)})
  `;
  for (let start = 0; start < result.clusters.length; start += INSERT_PAGE) {
    const page = result.clusters.slice(start, start + INSERT_PAGE);
    await sql`
      insert into batch_clusters (batch_id, cluster_no, size, mean_similarity, members)
      select ${batchId}, t.cluster_no, t.size, t.mean_similarity, t.members::jsonb
      from unnest(
        ${page.map((_, i) => start + i)}::int[],
        ${page.map((c) => c.size)}::int[],
        ${page.map((c) => c.meanSimilarity)}::float8[],
        ${page.map((c) => JSON.stringify(c.members))}::text[]
      ) as t(cluster_no, size, mean_similarity, members)
    `;
  }
}

export interface BatchSimilarityRow {
  method: 'exact' | 'lsh';
  summary: Record<string, unknown>;
  computedAt: Date;
}

export async function getBatchSimilarity(sql: Db, batchId: string): Promise<BatchSimilarityRow | undefined> {
  const [row] = await sql<BatchSimilarityRow[]>`
    select method, summary, computed_at
    from batch_similarity
    where batch_id = ${batchId}
  `;
  return row;
}

export interface ClusterRow {
  clusterNo: number;
  size: number;
  meanSimilarity: number;
  members: ClusterMember[];
}

export async function listBatchClusters(sql: Db, batchId: string, opts: { afterNo: number; limit: number }): Promise<ClusterRow[]> {
  return sql<ClusterRow[]>`
    select cluster_no, size, mean_similarity, members
    from batch_clusters
    where batch_id = ${batchId}
      and cluster_no > ${opts.afterNo}
    order by cluster_no
    limit ${opts.limit}
  `;
}
