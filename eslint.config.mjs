// Lint rules for the whole workspace. Module boundaries are enforced here (design.md, "Layout").
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** Libraries that must stay pure: no file system, network, processes or databases. */
const PURE_LIBS = ['core', 'crypto', 'tpm', 'ima', 'mba', 'protocol'];

const IO_MODULES = [
  'fs',
  'fs/promises',
  'net',
  'tls',
  'http',
  'https',
  'http2',
  'dgram',
  'child_process',
  'cluster',
  'worker_threads',
];
const IO_PACKAGES = ['better-sqlite3', 'pg', 'typeorm', 'express', 'zeromq', 'yauzl'];

const bannedForPureLibs = [...IO_MODULES.flatMap((m) => [m, `node:${m}`]), ...IO_PACKAGES].map(
  (name) => ({
    name,
    message:
      'pure libs (core, crypto, tpm, ima, mba, protocol) do no I/O; move this to an app or an I/O lib',
  }),
);

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/tmp/**',
      '**/node_modules/**',
      '**/*.cjs',
      '**/*.js',
      '**/*.mjs',
      '**/test-data/**',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@nx': nx },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          banTransitiveDependencies: false,
          depConstraints: [
            { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:core'] },
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', 'type:core'] },
            { sourceTag: 'type:protocol', onlyDependOnLibsWithTags: ['type:domain', 'type:core'] },
            { sourceTag: 'type:config', onlyDependOnLibsWithTags: ['type:core'] },
            {
              sourceTag: 'type:data-access',
              onlyDependOnLibsWithTags: ['type:domain', 'type:protocol', 'type:core'],
            },
            {
              sourceTag: 'type:server',
              onlyDependOnLibsWithTags: [
                'type:domain',
                'type:protocol',
                'type:config',
                'type:core',
              ],
            },
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: [
                'type:server',
                'type:data-access',
                'type:config',
                'type:protocol',
                'type:domain',
                'type:core',
              ],
            },
            {
              sourceTag: 'type:e2e',
              onlyDependOnLibsWithTags: ['type:protocol', 'type:domain', 'type:core'],
            },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
            { sourceTag: 'scope:agent', onlyDependOnLibsWithTags: ['scope:agent', 'scope:shared'] },
            {
              sourceTag: 'scope:registrar',
              onlyDependOnLibsWithTags: ['scope:registrar', 'scope:shared'],
            },
            {
              sourceTag: 'scope:verifier',
              onlyDependOnLibsWithTags: ['scope:verifier', 'scope:shared'],
            },
            {
              sourceTag: 'scope:tenant',
              onlyDependOnLibsWithTags: ['scope:tenant', 'scope:shared'],
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/ban-ts-comment': [
        'error',
        { 'ts-expect-error': 'allow-with-description' },
      ],
      '@typescript-eslint/only-throw-error': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'use an `as const` object instead of an enum' },
      ],
    },
  },
  {
    files: PURE_LIBS.map((lib) => `libs/${lib}/src/**/*.ts`),
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: bannedForPureLibs }],
      'no-console': 'error',
    },
  },
  {
    files: ['libs/**/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'only libs/config and apps read the environment',
        },
        { object: 'process', property: 'exit', message: 'libs never exit the process' },
      ],
    },
  },
  {
    // Benchmarks and dev scripts measure internals on purpose; they are never shipped.
    files: ['tools/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off', 'no-console': 'off' },
  },
  {
    files: ['libs/config/src/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // Tests poke at parsed JSON; the assertions are the type check there.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  prettier,
);
