/** @module open-transport: picks the transport a TCTI config names. */
import type { TctiConfig } from '../tcti';
import { parseTcti } from '../tcti';
import { DeviceTransport } from './device-transport';
import { SwtpmTransport } from './swtpm-transport';
import type { TpmTransport, TransportOptions } from './transport';

/** A transport for `tcti` (a TCTI string or a parsed config). Opening is lazy: nothing connects yet. */
export function openTransport(
  tcti: TctiConfig | string,
  options: TransportOptions = {},
): TpmTransport {
  const config = typeof tcti === 'string' ? parseTcti(tcti) : tcti;
  return config.kind === 'swtpm'
    ? new SwtpmTransport(config, options)
    : new DeviceTransport(config, options);
}
