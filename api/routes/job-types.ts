import { Hono } from 'hono';
import { z } from 'zod';
import type { JobType } from '../../job-types/job-type.js';
import type { JobTypeRegistry } from '../../job-types/registry.js';
import type { AuthEnv } from '../auth.js';

/** A job type as clients see it: what to send (JSON Schema of the input) and how it is run. */
export function jobTypeView(type: JobType) {
  return {
    name: type.name,
    description: type.description,
    inputSchema: z.toJSONSchema(type.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>,
    policy: {
      mode: type.policy.mode,
      maxRetries: type.policy.maxRetries,
      backoff: type.policy.backoff,
      timeoutMs: type.policy.timeoutMs,
      heartbeatTimeoutMs: type.policy.heartbeatTimeoutMs,
      nonRetryableErrorTypes: [...type.policy.nonRetryableErrorTypes],
    },
  };
}

export function jobTypeRoutes({ registry }: { registry: JobTypeRegistry }) {
  // The registry is fixed for the process's life: build the answer once.
  const items = [...registry.values()].map(jobTypeView).sort((a, b) => a.name.localeCompare(b.name));
  return new Hono<AuthEnv>().get('/', (c) => c.json({ items }, 200));
}
