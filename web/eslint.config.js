// ESLint for the page's JavaScript: `npm run lint` (in .ci/run).
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['dist/', 'node_modules/', 'pkg/'] },
  js.configs.recommended,
  {
    files: ['app.js', 'messages.js', 'js/**/*.js'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: globals.browser },
  },
  {
    files: ['worker.js', 'pool.js'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: globals.worker },
  },
  {
    // A classic script the crate puts inside its HTML replays; it lives in the
    // crate (src/viz/), so `npm run lint` lints it from the repository's root.
    files: ['src/viz/replay.js'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'script', globals: globals.browser },
  },
  {
    // A classic script that is also the service worker.
    files: ['coi.js'],
    languageOptions: {
      ecmaVersion: 2024, sourceType: 'script', globals: { ...globals.browser, ...globals.serviceworker },
    },
  },
  {
    files: ['tests/**/*.mjs', 'eslint.config.js'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
  },
  {
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: 'error',
      'prefer-const': 'error',
      'no-var': 'error',
    },
  },
];
