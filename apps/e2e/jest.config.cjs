module.exports = {
  displayName: 'e2e',
  preset: '../../jest.preset.js',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
};
