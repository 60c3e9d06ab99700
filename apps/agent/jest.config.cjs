const preset = require('../../jest.preset.js');

module.exports = {
  displayName: 'agent',
  preset: '../../jest.preset.js',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
  // The IMA test tool in tools/swtpm belongs to the agent's tests.
  roots: ['<rootDir>', '<rootDir>/../../tools/swtpm'],
  testMatch: [...preset.testMatch, '<rootDir>/../../tools/swtpm/ima-writer.spec.ts'],
};
