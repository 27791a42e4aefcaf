/**
 * The CLI's own configuration: where the API is and which key to use. Read here
 * (the lint rule that keeps process.env in config.ts exempts this file) because the
 * CLI runs on users' machines, where the server's variables mean nothing.
 */
import { z } from 'zod';

const schema = z.object({
  BATCHWORKS_URL: z.url().default('http://127.0.0.1:3000'),
  BATCHWORKS_API_KEY: z.string().min(1).optional(),
});

export interface CliConfig {
  url: string;
  apiKey: string | undefined;
}

export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid CLI configuration in the environment:\n${lines.join('\n')}`);
  }
  return Object.freeze({ url: parsed.data.BATCHWORKS_URL, apiKey: parsed.data.BATCHWORKS_API_KEY });
}
