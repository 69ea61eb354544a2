// Lint for murmur: typescript-eslint's type-checked recommendations, plus the `murmur` plugin
// (eslint-rules/layers.js), which enforces the layer boundaries of ARCHITECTURE.md §3.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import murmur from './eslint-rules/layers.js';

/** Node's globals, for the few plain JavaScript files (TypeScript files get them from @types/node). */
const nodeGlobals = {
  console: 'readonly',
  process: 'readonly',
  URL: 'readonly',
  fetch: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  setInterval: 'readonly',
  clearInterval: 'readonly',
};

export default defineConfig(
  { name: 'murmur/ignores', ignores: ['dist/', 'node_modules/', 'coverage/', 'src/wire/gen/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    name: 'murmur/typescript',
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A daemon full of async code: an unhandled promise is a lost error. On by name, on purpose.
      '@typescript-eslint/no-floating-promises': 'error',
      // `_`-prefixed names mark parameters kept for an interface's shape (handlers, deps).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // `MemberId | ''` documents an allowed empty value although MemberId is a string alias.
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      // Numbers and booleans in messages are the point of a template; objects still get flagged.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    name: 'murmur/javascript',
    // The plain JavaScript files (this config, the lint plugin, bin/*) are not in a TS program.
    files: ['**/*.js', '**/*.mjs', 'bin/murmur', 'bin/hab'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },
  {
    name: 'murmur/tests',
    files: ['test/**/*.ts', 'src/**/*.test.ts'],
    rules: {
      // vitest's asymmetric matchers (expect.objectContaining, expect.any, …) are typed `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  murmur.configs.layers,
);
