/** @module errors.spec: the README lists exactly the KL_TPM_* codes the registry defines. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TpmErrorCode } from './errors';

describe('error code registry', () => {
  it('README documents every KL_TPM_* code and no stale one (fastify habit)', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const documented = new Set(readme.match(/KL_TPM_[A-Z_]+/g));
    expect([...documented].sort()).toEqual(Object.values(TpmErrorCode).sort());
  });
});
