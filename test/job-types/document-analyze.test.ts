import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeDocument } from '../../job-types/document-analyze.js';
import { decodeSignature, estimatedJaccard } from '../../job-types/text/minhash.js';
import { clusterNearDuplicates } from '../../lib/near-duplicates.js';
import { makeCorpus, pairsOf, precisionRecall, truthGroups } from '../support/corpus.js';
import { createHarness, type Harness, type TestTenant } from '../support/harness.js';

const sig = (text: string) => decodeSignature(analyzeDocument(text).minhash.signature);

describe('analyzeDocument', () => {
  it('counts characters (code points), bytes and tokens', () => {
    const a = analyzeDocument('Héllo, wörld! 😀 Hello again.', 'd1');
    expect(a).toMatchObject({ id: 'd1', characters: 28, bytes: 33, tokens: 4, uniqueTokens: 4 });
  });

  it.each([
    ['The cat sat on the mat and it was happy with the result of this.', 'Latin', 'en'],
    ['Der Hund ist nicht mit der Katze und die Maus auf dem Tisch.', 'Latin', 'de'],
    ['Le chat est dans la maison et les enfants sont pour le jardin.', 'Latin', 'fr'],
    ['Это не то, что он хотел, и все в доме как всегда.', 'Cyrillic', 'ru'],
    ['これは日本語の文章です。ひらがなとカタカナ。', 'Kana', 'ja'],
    ['这是一个中文句子，没有假名。', 'Han', 'zh'],
    ['Lorem ipsum dolor sit amet', 'Latin', 'und'],
  ])('guesses script and language of %s', (text, script, language) => {
    expect(analyzeDocument(text).script).toMatchObject({ script, language });
  });

  it('gives an L2-normalised 256-dimension embedding, deterministic across calls', () => {
    const a = analyzeDocument('alpha beta gamma delta alpha');
    const norm = Math.sqrt(a.embedding.values.reduce((s, x) => s + x * x, 0));
    expect(a.embedding.dimensions).toBe(256);
    expect(a.embedding.values).toHaveLength(256);
    expect(norm).toBeCloseTo(1, 3);
    expect(analyzeDocument('alpha beta gamma delta alpha')).toEqual(a);
  });

  it('MinHash agreement tracks shingle overlap', () => {
    const base = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    const edited = base.replace('w50 ', 'x50 ').replace('w150 ', 'x150 ');
    const other = Array.from({ length: 200 }, (_, i) => `v${i}`).join(' ');
    expect(estimatedJaccard(sig(base), sig(base))).toBe(1);
    expect(estimatedJaccard(sig(base), sig(edited))).toBeGreaterThan(0.8);
    expect(estimatedJaccard(sig(base), sig(other))).toBeLessThan(0.1);
  });
});

describe('near-duplicate clustering (pure)', () => {
  it('finds the known duplicates of a 20,000-document corpus with MinHash LSH', () => {
    const docs = makeCorpus({ bases: 11_000, variantsOf: 2_250, variantsEach: 4, seed: 7 });
    const result = clusterNearDuplicates(docs.map((d) => sig(d.text)), { exactMaxDocs: 0 });
    const q = precisionRecall(pairsOf(truthGroups(docs)), pairsOf(result.clusters.map((c) => c.members)));
    console.log(`[near-duplicates] LSH, ${docs.length} documents: precision ${q.precision.toFixed(4)}, recall ${q.recall.toFixed(4)} (${q.foundPairs} pairs found, ${q.truePairs} true; ${result.comparedPairs} pairs compared)`);
    expect(result.method).toBe('lsh');
    expect(q.precision).toBeGreaterThanOrEqual(0.99);
    expect(q.recall).toBeGreaterThanOrEqual(0.98);
    // LSH compares a tiny share of the n² / 2 pairs.
    expect(result.comparedPairs).toBeLessThan(docs.length * 10);
  });

  it('links a bucket of many identical copies without comparing every pair', () => {
    const same = sig('one two three four five six seven');
    const result = clusterNearDuplicates(Array.from({ length: 3_000 }, () => same), { exactMaxDocs: 0 });
    expect(result.clusters).toHaveLength(1);
    expect(result.clusters[0]!.members).toHaveLength(3_000);
    expect(result.comparedPairs).toBeLessThan(3_000);
  });
});

describe('document.analyze batches', () => {
  let h: Harness;
  let t: TestTenant;
  beforeAll(async () => {
    h = await createHarness();
    t = await h.tenant();
  });
  afterAll(() => h?.close());

  async function clustersOf(key: string, id: string) {
    // Clusters are written right after the batch ends: poll briefly.
    for (let i = 0; ; i++) {
      const res = await h.request('GET', `/v1/batches/${id}/clusters?limit=1000`, { key });
      if (res.status === 200 || i > 200) return { res, body: (await res.json()) as Record<string, unknown> };
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('analyses every document and clusters the known near-duplicates exactly (small batch: all pairs)', async () => {
    const docs = makeCorpus({ bases: 40, variantsOf: 10, variantsEach: 3, seed: 3 });
    const items = [...docs.map((d) => ({ input: { text: d.text, id: d.id } })), { input: { text: '' } }];
    const { id, status } = await h.submit(t.key, { type: 'document.analyze', concurrency: 20, items });
    expect(status).toBe(202);
    expect((await h.waitForBatch(t.key, id)).status).toBe('completed');

    const { res, body } = await clustersOf(t.key, id);
    expect(res.status).toBe(200);
    const clusters = body.items as { size: number; members: { id: string | null; index: number }[] }[];
    const position = new Map(docs.map((d, i) => [d.id, i]));
    const found = pairsOf(clusters.map((c) => c.members.map((m) => position.get(m.id!)!)));
    const q = precisionRecall(pairsOf(truthGroups(docs)), found);
    console.log(`[near-duplicates] exact, ${docs.length} documents via the API: precision ${q.precision.toFixed(4)}, recall ${q.recall.toFixed(4)} (${q.foundPairs}/${q.truePairs} pairs)`);
    expect(q).toMatchObject({ precision: 1, recall: 1 });
    expect(clusters).toHaveLength(10);
    expect(clusters.every((c) => c.size === 4)).toBe(true);
    expect(body.method).toBe('exact');
    expect(body.summary).toMatchObject({
      documents: docs.length + 1,
      emptyDocuments: 1,
      clusters: 10,
      documentsInClusters: 40,
      largestCluster: 4,
      cosine: { mean: expect.any(Number), max: expect.any(Number) },
    });
  });

  it('answers 409 for a batch of another type and 404 for another tenant', async () => {
    const other = await h.tenant();
    const { id } = await h.submit(t.key, { type: 'sleep', items: [{ input: { ms: 0 } }] });
    await h.waitForBatch(t.key, id);
    expect((await h.request('GET', `/v1/batches/${id}/clusters`, { key: t.key })).status).toBe(409);
    expect((await h.request('GET', `/v1/batches/${id}/clusters`, { key: other.key })).status).toBe(404);
  });

  it('rejects a text over 1 MiB at submit', async () => {
    const { status, body } = await h.submit(t.key, { type: 'document.analyze', items: [{ input: { text: 'a'.repeat(1024 * 1024 + 1) } }] });
    expect(status).toBe(400);
    expect((body.errors as { path: string }[])[0]!.path).toBe('body.items.0.input.text');
  });
});
