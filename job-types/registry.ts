import type { FieldError } from '../lib/errors.js';
import type { ExecutionMode, JobType } from './job-type.js';
import { documentAnalyzeJobType } from './document-analyze.js';
import { httpRequestJobType } from './http-request.js';
import { sleepJobType } from './sleep.js';

export type JobTypeRegistry = ReadonlyMap<string, JobType>;

export function createRegistry(types: readonly JobType[]): JobTypeRegistry {
  const map = new Map<string, JobType>();
  for (const t of types) {
    if (map.has(t.name)) throw new Error(`job type '${t.name}' is registered twice`);
    map.set(t.name, t);
  }
  return map;
}

/** The job types this build ships. */
export const builtInJobTypes = [sleepJobType, httpRequestJobType, documentAnalyzeJobType] as const;
export const defaultRegistry = (): JobTypeRegistry => createRegistry(builtInJobTypes);

/** How many field errors one rejected submission reports at most. */
export const MAX_REPORTED_ERRORS = 100;

/**
 * Validates every item's input against the job type's schema. Returns the parsed
 * inputs (defaults applied) or the offending items' field errors.
 */
export function validateInputs(
  type: JobType,
  inputs: readonly unknown[],
  pathOf: (index: number) => string,
): { ok: true; values: unknown[] } | { ok: false; errors: FieldError[]; invalidCount: number } {
  const values: unknown[] = new Array(inputs.length);
  const errors: FieldError[] = [];
  let invalidCount = 0;
  for (let i = 0; i < inputs.length; i++) {
    const result = type.input.safeParse(inputs[i]);
    if (result.success) {
      values[i] = result.data;
      continue;
    }
    invalidCount++;
    for (const issue of result.error.issues) {
      if (errors.length >= MAX_REPORTED_ERRORS) break;
      errors.push({ path: [pathOf(i), ...issue.path.map(String)].join('.'), message: issue.message });
    }
  }
  return invalidCount === 0 ? { ok: true, values } : { ok: false, errors, invalidCount };
}

/** The batch's mode when the submitter names none: chunked only when every input asks for it. */
export function chooseMode(type: JobType, inputs: readonly unknown[]): ExecutionMode {
  if (!type.chooseMode) return type.policy.mode;
  return inputs.every((input) => type.chooseMode!(input) === 'chunk') ? 'chunk' : 'activity';
}
