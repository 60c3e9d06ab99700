/** @module story-postgres.spec: the whole-system story with the registrar and verifier on a private PostgreSQL. */
// Test helper of the persistence lib (initdb in a temp dir, free port); never shipped.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { startPrivatePostgres } from '@keylime/persistence/src/testing';
import { describeStory } from './story';

describeStory('the whole system on swtpm (PostgreSQL)', async () => {
  const pg = await startPrivatePostgres();
  try {
    return {
      registrarUrl: await pg.createDatabase('registrar'),
      verifierUrl: await pg.createDatabase('verifier'),
      stop: () => pg.stop(),
    };
  } catch (e) {
    await pg.stop();
    throw e;
  }
});
