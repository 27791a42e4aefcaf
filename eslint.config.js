import tseslint from 'typescript-eslint';

/** Workflows run in Temporal's deterministic sandbox: no I/O, no clock, no randomness, no env. */
const workflowRules = {
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        { regex: '^node:', message: 'Node built-ins are not allowed in workflows/; do I/O in activities/.' },
        {
          regex: '^(fs|path|os|crypto|child_process|http|https|net|dns|util|events|stream|worker_threads|timers)(/.*)?$',
          message: 'Node built-ins are not allowed in workflows/; do I/O in activities/.',
        },
        { regex: '^(postgres|hono|pino)$', message: 'Database, HTTP and logging libraries belong in activities/ or api/.' },
        { regex: '^@hono/', message: 'HTTP libraries belong in api/.' },
        { regex: '^@temporalio/(worker|client|activity|testing)$', message: 'Workflows import only @temporalio/workflow and @temporalio/common.' },
        { regex: '^\\.\\./(db|api|config|activities/(?!index))', message: 'Workflows may only `import type` from activities/.' },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'process', message: 'No process.env in workflows/: pass values as workflow arguments.' },
    { name: 'setTimeout', message: "Use the workflow's sleep() from @temporalio/workflow." },
    { name: 'setInterval', message: "Use the workflow's sleep() in a loop." },
  ],
  'no-restricted-syntax': [
    'error',
    { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'No Date.now() in workflows/.' },
    { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'No new Date() in workflows/.' },
    { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: 'No Math.random() in workflows/: use uuid4().' },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use an `as const` union instead of enum.' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      ...workflowRules,
      'no-restricted-syntax': [...workflowRules['no-restricted-syntax'], { selector: 'TSEnumDeclaration', message: 'Use an `as const` union instead of enum.' }],
    },
  },
  {
    // Only config.ts reads the environment (start.ts and the CLI finder pass it on to child processes;
    // cli/config.ts reads the batchworks CLI's own BATCHWORKS_URL / BATCHWORKS_API_KEY).
    files: ['**/*.ts'],
    ignores: ['config.ts', 'test/**', 'temporal/cli.ts', 'scripts/start.ts', 'bench/setup.ts', 'cli/config.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration through config.ts.' }],
    },
  },
);
