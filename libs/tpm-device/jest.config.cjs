module.exports = {
  displayName: 'tpm-device',
  preset: '../../jest.preset.js',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
};
