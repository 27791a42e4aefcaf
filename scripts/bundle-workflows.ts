/** `tsx scripts/bundle-workflows.ts <file>`: writes the workflow bundle once (the Docker build does), for WORKFLOW_BUNDLE_PATH. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflows } from '../temporal/worker.js';

const out = path.resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, (await bundleWorkflows()).code);
console.log(`workflow bundle written to ${out}`);
