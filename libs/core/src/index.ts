/** @module @keylime/core: errors with stable codes, byte Reader/Writer, hex/base64, logging. */

// errors
export { KeylimeError, DecodeError, hasErrorCode, errorMessage } from './errors';
export type { ErrorDetails, KeylimeErrorOptions } from './errors';

// binary codecs
export { Reader, Writer, decodeAll, concatBytes, bytesEqual, DecodeErrorCode } from './bytes';

// text encodings
export {
  toHex,
  fromHex,
  toBase64,
  fromBase64,
  isBase64,
  utf8,
  EncodingErrorCode,
} from './encoding';

// logging
export { createLineLogger, silentLogger, formatTimestamp } from './logger';
export type { Logger, LogLevel, LogFields, LineLoggerOptions } from './logger';
