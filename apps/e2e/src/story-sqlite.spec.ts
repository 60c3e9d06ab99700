/** @module story-sqlite.spec: the whole-system story with the registrar and verifier on SQLite files. */
import { describeStory } from './story';

describeStory('the whole system on swtpm (SQLite)');
