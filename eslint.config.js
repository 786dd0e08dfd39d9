// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import importX, { createNodeResolver } from 'eslint-plugin-import-x'

/**
 * One direction of dependency (DESIGN.md): api/cli → agent/catalog → store → structs → lib.
 * The filter language (filter) sits beside them: api and catalog use it, it uses lib and structs.
 */
const layers = [
  {
    target: './src/lib',
    from: [
      './src/structs',
      './src/store',
      './src/catalog',
      './src/agent',
      './src/api',
      './src/config',
      './src/cli',
      './src/filter',
    ],
  },
  {
    target: './src/structs',
    from: [
      './src/store',
      './src/catalog',
      './src/agent',
      './src/api',
      './src/config',
      './src/cli',
      './src/filter',
    ],
  },
  {
    target: './src/store',
    from: ['./src/catalog', './src/agent', './src/api', './src/config', './src/cli', './src/filter'],
  },
  { target: './src/catalog', from: ['./src/agent', './src/api', './src/config', './src/cli'] },
  { target: './src/agent', from: ['./src/api', './src/cli'] },
  { target: './src/config', from: ['./src/api', './src/cli', './src/agent'] },
  {
    target: './src/filter',
    from: ['./src/api', './src/agent', './src/cli', './src/config', './src/catalog', './src/store'],
  },
]

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    // Sources import `./x.js` for `./x.ts`: without the alias no import resolves, and
    // no-restricted-paths silently checks nothing.
    settings: {
      'import-x/resolver-next': [
        createNodeResolver({ extensions: ['.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } }),
      ],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: layers }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              name: ['test', 'it', 'describe', 'suite', 'before', 'after'],
              package: 'node:test',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
)
