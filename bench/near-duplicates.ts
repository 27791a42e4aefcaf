/**
 * `npx tsx bench/near-duplicates.ts [documents]`: analyses a synthetic corpus with
 * known near-duplicates, clusters it with MinHash LSH and writes the figures
 * (timings, precision, recall) to bench/results/near-duplicates.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { analyzeDocument } from '../job-types/document-analyze.js';
import { decodeSignature } from '../job-types/text/minhash.js';
import { clusterNearDuplicates } from '../lib/near-duplicates.js';
import { makeCorpus, pairsOf, precisionRecall, truthGroups } from '../test/support/corpus.js';

const total = Number(process.argv[2] ?? 100_000);
// A fifth of the bases get 4 variants each: 5 documents per duplicate group.
const bases = Math.round(total / 1.8);
const docs = makeCorpus({ bases, variantsOf: Math.round(bases / 5), variantsEach: 4 }).slice(0, total);

let t = performance.now();
const signatures = docs.map((d) => decodeSignature(analyzeDocument(d.text, d.id).minhash.signature));
const analyzeMs = performance.now() - t;

t = performance.now();
const result = clusterNearDuplicates(signatures, { exactMaxDocs: 0 });
const clusterMs = performance.now() - t;

const quality = precisionRecall(pairsOf(truthGroups(docs)), pairsOf(result.clusters.map((c) => c.members)));
const figures = {
  documents: docs.length,
  analyzeMs: Math.round(analyzeMs),
  clusterMs: Math.round(clusterMs),
  method: result.method,
  comparedPairs: result.comparedPairs,
  clusters: result.clusters.length,
  ...quality,
  node: process.version,
  at: new Date().toISOString(),
};
await mkdir(new URL('./results/', import.meta.url), { recursive: true });
await writeFile(new URL('./results/near-duplicates.json', import.meta.url), `${JSON.stringify(figures, null, 2)}\n`);
console.log(JSON.stringify(figures, null, 2));
