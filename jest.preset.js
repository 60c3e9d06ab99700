// Shared Jest settings: node environment, workspace-local cache, ts-jest transpiling only
// (type errors are caught by the typecheck target).
const path = require('node:path');
const nxPreset = require('@nx/jest/preset').default;

module.exports = {
  ...nxPreset,
  testEnvironment: 'node',
  cacheDirectory: path.join(__dirname, 'tmp/jest-cache'),
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/tests/**/*.spec.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  reporters: ['default', path.join(__dirname, 'tools/jest-summary-reporter.cjs')],
};
