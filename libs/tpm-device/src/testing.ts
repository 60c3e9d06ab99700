/** @module testing: swtpm test helpers for specs in this and other libs (import by relative path, tests only). */
export { startSwtpm, tpm2 } from './testing/swtpm';
export type { SwtpmInstance, StartSwtpmOptions } from './testing/swtpm';
