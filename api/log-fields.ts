import type { Context } from 'hono';
import { batchWorkflowId, consolidationWorkflowId } from '../lib/names.js';

const BATCH = /^\/v1\/batches\/([0-9a-f-]{36})(?:\/|$)/i;
const CONSOLIDATION = /^\/v1\/consolidations\/([0-9a-f-]{36})(?:\/|$)/i;

/**
 * The ids a request line should carry, from its path or, for a submission, from its
 * Location: a batch and its workflow id, so one grep finds the request, the workflow
 * in the Temporal UI and the worker's lines for it.
 */
export function logFieldsOf(c: Context): Record<string, string> {
  const batch = BATCH.exec(c.req.path) ?? BATCH.exec(c.res.headers.get('Location') ?? '');
  if (batch) return { batchId: batch[1]!, workflowId: batchWorkflowId(batch[1]!) };
  const consolidation = CONSOLIDATION.exec(c.req.path) ?? CONSOLIDATION.exec(c.res.headers.get('Location') ?? '');
  const tenantId = (c.get('principal') as { tenantId?: string } | undefined)?.tenantId;
  if (consolidation && tenantId) return { consolidationId: consolidation[1]!, workflowId: consolidationWorkflowId(tenantId) };
  return {};
}
