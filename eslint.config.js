// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((name) => [name, `${name}/*`]);

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.sim/',
      '.wrangler/',
      'dist/',
      'shared/sdk/dist/',
      'bench-results/',
      'test-artifacts/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // shared/ runs in both workerd and Node: nothing runtime-specific may enter it.
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'shared/ must run in workerd too: no Node built-ins.' },
            { group: nodeBuiltins, message: 'shared/ must run in workerd too: no Node built-ins.' },
            {
              group: ['ioredis', 'postgres', 'pino', 'prom-client', 'socket.io', 'hono/*', 'cloudflare:*'],
              message: 'shared/ is runtime-neutral: runtime-specific packages live in regions/ or edge/.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...[
          'process',
          'Buffer',
          'require',
          '__dirname',
          '__filename',
          'WebSocketPair',
          'caches',
          'HTMLRewriter',
        ].map((name) => ({ name, message: 'shared/ must run in both workerd and Node.' })),
      ],
    },
  },
  {
    // Command-line entry points, the local harness and the simulation print to the terminal on purpose.
    files: ['infra/**/*.ts', 'harness/**/*.ts', 'bench/**/*.ts', 'tests/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
