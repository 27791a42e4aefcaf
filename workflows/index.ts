export { batchWorkflow, progressQuery } from './batch.js';
export type { BatchProgress, BatchWorkflowArgs } from './batch.js';
export { batchRangeWorkflow } from './range.js';
export type { BatchRangeArgs, RangeResult } from './range.js';
export { consolidationWorkflow } from './consolidation.js';
export type { ConsolidationResult, ConsolidationWorkflowArgs } from './consolidation.js';
export { scheduledConsolidationWorkflow } from './scheduled-consolidation.js';
export type { ScheduledConsolidationArgs, ScheduledConsolidationResult } from './scheduled-consolidation.js';
