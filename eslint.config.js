// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import importX from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'

/**
 * One direction of dependency (DESIGN.md): cli → roles → api → agent → catalog → store → structs
 * → lib (config beside agent), and src never reaches into test/ or bench/. The filter language
 * sits beside them: api and catalog use it, it uses lib and structs. dns sits beside api: it reads
 * the catalog through its own port (src/dns/catalog-port.ts), uses lib and structs, roles wire it.
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
      './src/dns',
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
      './src/dns',
    ],
  },
  {
    target: './src/store',
    from: ['./src/catalog', './src/agent', './src/api', './src/config', './src/cli', './src/filter'],
  },
  { target: './src/catalog', from: ['./src/agent', './src/api', './src/config', './src/cli'] },
  { target: './src/agent', from: ['./src/api', './src/cli', './src/roles'] },
  { target: './src/config', from: ['./src/api', './src/cli', './src/agent', './src/roles'] },
  { target: './src/api', from: ['./src/cli', './src/roles'] },
  { target: './src/roles', from: ['./src/cli'] },
  {
    target: './src/filter',
    from: [
      './src/api',
      './src/agent',
      './src/cli',
      './src/config',
      './src/catalog',
      './src/store',
      './src/roles',
    ],
  },
  {
    target: './src/dns',
    from: [
      './src/api',
      './src/agent',
      './src/cli',
      './src/config',
      './src/roles',
      './src/catalog',
      './src/store',
      './src/filter',
    ],
  },
  { target: './src', from: ['./test', './bench'] },
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
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: layers }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
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
