/**
 * @module agent-http: the smallest HTTP/1.1 server the fleet simulator needs, run directly on the
 * sockets of a `tls.Server` instead of `https.Server` (whose IncomingMessage/ServerResponse machinery
 * cost more CPU per quote than the quote itself). It reads a request line and headers (capped),
 * `Content-Length` bodies, keeps connections alive and pipelines; every reply is one `socket.write`
 * of status line, the headers Node's http server would send for `writeHead` + `end` (Content-Type,
 * Content-Length, Date, Connection, Keep-Alive) and the body. `Transfer-Encoding` request bodies are
 * refused with 501: verifiers send small JSON bodies with a length.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/** One parsed request; `target` is the request-target as sent (path and query). */
export interface AgentHttpRequest {
  readonly method: string;
  readonly target: string;
  /** Empty when the request has no body. */
  readonly body: Buffer;
}

/** What a handler answers: a status code and a JSON body (sent as application/json). */
export interface AgentHttpReply {
  readonly code: number;
  readonly body: string;
}

export type AgentHttpHandler = (req: AgentHttpRequest) => AgentHttpReply;

export interface AgentHttpOptions {
  /** Idle time after which a connection is closed (Node's keepAliveTimeout). */
  readonly keepAliveMs: number;
  /** Request line plus headers above this many bytes: 431 and close. */
  readonly maxHeaderBytes?: number;
  /** Bodies above this many bytes: 413 and close. */
  readonly maxBodyBytes?: number;
}

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const REQUEST_LINE = /^([A-Z]+) ([^ ]+) HTTP\/1\.([01])$/;

let dateSecond = -1;
let dateHeader = '';
/** The Date header, formatted once per second (Node's http server caches it the same way). */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateHeader = new Date(now).toUTCString();
  }
  return dateHeader;
}

/** The whole response as one string: status line, headers and body. */
export function formatResponse(
  code: number,
  body: string,
  keepAlive: boolean,
  keepAliveSeconds: number,
): string {
  const connection = keepAlive
    ? `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSeconds}`
    : 'Connection: close';
  return `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Unknown'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nDate: ${httpDate()}\r\n${connection}\r\n\r\n${body}`;
}

interface Head {
  readonly method: string;
  readonly target: string;
  readonly keepAlive: boolean;
  /** -1: malformed Content-Length; -2: a Transfer-Encoding body. */
  readonly length: number;
  readonly expectContinue: boolean;
}

/** Parses request line and headers (without the final CRLF CRLF); undefined when malformed. */
function parseHead(head: string): Head | undefined {
  const eol = head.indexOf('\r\n');
  const m = REQUEST_LINE.exec(eol < 0 ? head : head.slice(0, eol));
  if (!m) return undefined;
  let keepAlive = m[3] === '1';
  let length = 0;
  let expectContinue = false;
  let at = eol < 0 ? head.length : eol + 2;
  while (at < head.length) {
    let next = head.indexOf('\r\n', at);
    if (next < 0) next = head.length;
    const colon = head.indexOf(':', at);
    if (colon < 0 || colon >= next || colon === at) return undefined;
    const name = head.slice(at, colon).toLowerCase();
    if (name === 'content-length') {
      const v = head.slice(colon + 1, next).trim();
      length = /^\d{1,9}$/.test(v) ? Number(v) : -1;
    } else if (name === 'transfer-encoding') length = -2;
    else if (name === 'connection') {
      const v = head.slice(colon + 1, next).toLowerCase();
      if (v.includes('close')) keepAlive = false;
      else if (v.includes('keep-alive')) keepAlive = true;
    } else if (name === 'expect')
      expectContinue =
        head
          .slice(colon + 1, next)
          .trim()
          .toLowerCase() === '100-continue';
    at = next + 2;
  }
  return { method: m[1] ?? '', target: m[2] ?? '', keepAlive, length, expectContinue };
}

const EMPTY = Buffer.alloc(0);

/**
 * Serves HTTP/1.1 on an established (TLS) socket until either side closes it. Handlers run
 * synchronously, so pipelined requests are answered in order without queueing.
 */
export function serveHttp(
  socket: Socket,
  handler: AgentHttpHandler,
  options: AgentHttpOptions,
): void {
  const maxHeader = options.maxHeaderBytes ?? 16 * 1024;
  const maxBody = options.maxBodyBytes ?? 1 << 16;
  const keepAliveSeconds = Math.round(options.keepAliveMs / 1000);
  let pending: Buffer | undefined;
  let continued = false;
  let closed = false;

  const fail = (code: number): void => {
    closed = true;
    pending = undefined;
    socket.end(formatResponse(code, '', false, keepAliveSeconds));
  };

  const onData = (chunk: Buffer): void => {
    if (closed) return;
    const data = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    pending = undefined;
    let off = 0;
    while (off < data.length) {
      const end = data.indexOf(HEADER_END, off);
      if (end < 0) {
        if (data.length - off > maxHeader) return fail(431);
        break;
      }
      if (end - off > maxHeader) return fail(431);
      const head = parseHead(data.toString('latin1', off, end));
      if (!head || head.length === -1) return fail(400);
      if (head.length === -2) return fail(501);
      if (head.length > maxBody) return fail(413);
      const bodyAt = end + 4;
      if (data.length < bodyAt + head.length) {
        if (head.expectContinue && !continued) {
          continued = true;
          socket.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
        break;
      }
      continued = false;
      const body = head.length === 0 ? EMPTY : data.subarray(bodyAt, bodyAt + head.length);
      off = bodyAt + head.length;
      const reply = handler({ method: head.method, target: head.target, body });
      if (!head.keepAlive) {
        closed = true;
        socket.end(formatResponse(reply.code, reply.body, false, keepAliveSeconds));
        return;
      }
      socket.write(formatResponse(reply.code, reply.body, true, keepAliveSeconds));
    }
    // A copy, so a partial request does not pin a large chunk.
    if (off < data.length) pending = Buffer.from(data.subarray(off));
  };

  socket.on('data', onData);
  socket.setTimeout(options.keepAliveMs, () => socket.destroy());
  // Resets and aborted handshakes are the client's business; nothing to answer.
  socket.on('error', () => socket.destroy());
}
