// ESLint: the recommended rules, and typescript-eslint's type-aware ones (floating and misused
// promises, unsafe `any`, awaiting what is not a promise) on every TypeScript file. Formatting is
// Prettier's (`.prettierrc.json`); eslint-config-prettier turns off the rules that would disagree.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import pluginVue from 'eslint-plugin-vue';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', '.tokenpool/', 'test-results/'] },
  {
    files: ['**/*.ts'],
    ignores: ['ui/**'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // tsconfig.test.json covers every folder, tests and benchmarks included.
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Fakes and adapters implement Promise-returning contracts without awaiting anything; `async` keeps their throws rejections.
      '@typescript-eslint/require-await': 'off',
      // The HTTP and usage parsers match control characters on purpose (header values, NUL bytes).
      'no-control-regex': 'off',
    },
  },
  {
    // The pure cores read no clock and start no timer: the time is an argument (the import rules are in .dependency-cruiser.cjs).
    files: ['scheduler/**/*.ts', 'server/billing/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Take the time as an argument: the clock is injected at the edge.' },
        { object: 'performance', property: 'now', message: 'Take the time as an argument: the clock is injected at the edge.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Take the time as an argument: the clock is injected at the edge.' },
      ],
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval', 'setImmediate'].map((name) => ({ name, message: 'Timers belong to the edge (jobs, the scheduling loop).' })),
      ],
    },
  },
  {
    // A migration is frozen in time and must not name today's schema types: `up(db: Kysely<any>)`.
    files: ['db/migrations/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests and benchmarks read JSON answers as `any` and check them with chai; a declared type would be an unchecked cast, no safer.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // chai asserts with property reads: `expect(x).to.be.true`.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    files: ['*.js', '*.cjs', 'ui/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    // The UI (ui/): Vue's recommended rules on the single-file components (vue-eslint-parser, with
    // typescript-eslint's parser for <script lang="ts">) and typescript-eslint's recommended rules.
    // Not the type-aware rules: vue-tsc type-checks the UI (`node ui/build.mjs`), against the types
    // generated from the OpenAPI document, which a lint on a fresh clone would not have yet.
    files: ['ui/**/*.ts', 'ui/**/*.vue'],
    extends: [js.configs.recommended, tseslint.configs.recommended, pluginVue.configs['flat/recommended']],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] }, globals: globals.browser },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Formatting is Prettier's.
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
      // Views are named by their folder and role (OverviewView.vue), as in vue-element-admin.
      'vue/multi-word-component-names': 'off',
    },
  },
  prettier,
);
