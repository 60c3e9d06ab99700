module.exports = {
  displayName: 'agent',
  preset: '../../jest.preset.js',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
};
