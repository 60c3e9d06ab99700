/** @module @keylime/server: HTTPS/mTLS bootstrap, API-version routing, errors as JSON envelopes. */

// application and routing
export { createApp, finishApp, route, sendEnvelope, jsonObjectBody, errorHandler } from './app';
export type { AppOptions, MethodHandlers } from './app';
export { mountVersionedApi, apiVersion } from './versioning';
export type { VersionedApiOptions } from './versioning';
export { HttpError, badRequest, notFound } from './http-error';

// listening and client identity
export { listen, verifiedClient, isTlsSocket, DEFAULT_TIMEOUTS } from './https-server';
export type {
  ListenOptions,
  RunningServer,
  TlsServerMaterial,
  ServerTimeouts,
  ClientIdentity,
} from './https-server';
export { requireAdmin } from './admin';

// TLS files and identity
export { prepareServerTls } from './tls-setup';
export type { ServerTlsSettings } from './tls-setup';
export { readPemFile, writeTlsDirectory, TlsFileErrorCode } from './tls-files';

// service frame
export { runService, createStdoutLogger, STARTUP_FAILURE_EXIT_CODE } from './service';
export type { ServiceHandle, RunServiceOptions } from './service';
