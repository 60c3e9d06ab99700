module.exports = {
  displayName: 'config',
  preset: '../../jest.preset.js',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
};
