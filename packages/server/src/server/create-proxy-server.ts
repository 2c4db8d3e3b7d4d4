import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { InvalidPolicyError, parseDuration, type Vault } from '@keybrake/core';
import { type Logger, pino } from 'pino';
import { createProxyLogger, serializeErrorWithoutCredentials } from '../logging/create-proxy-logger.js';
import { createProxyMetrics } from '../metrics/create-proxy-metrics.js';
import { VERSION } from '../version.js';
import type { WireError } from '../wire/wire-types.js';
import { createAdminTokenCheck } from './create-admin-token-check.js';
import { handleAdminRequest, MAX_ADMIN_BODY_BYTES } from './handle-admin-request.js';
import { handleVendorRequest } from './handle-vendor-request.js';
import type { ProxyContext } from './proxy-context.js';
import { writeError, writeJson } from './write-json.js';

/** Options of {@link createProxyServer}. */
export interface ProxyServerOptions {
  /** The vault holding the real vendor secrets. The proxy closes it when it closes. */
  vault: Vault;
  /**
   * The admin token (`KEYBRAKE_ADMIN_TOKEN`), at least 16 printable ASCII characters, no spaces: the admin API and `/metrics`
   * need `Authorization: Bearer <admin token>`, compared in constant time.
   */
  adminToken: string;
  /**
   * Largest request body accepted, bytes. A larger body is not read past the limit; the vault
   * denies the call with 413 in the vendor's error shape and audits it under its key, and the
   * connection is closed. Keep it equal to the vault's `maxBodyBytes`.
   * @default 1_048_576
   */
  maxBodyBytes?: number | undefined;
  /**
   * The pino logger: one line per call. It keeps its own redaction settings; the proxy logs no
   * header, body or vault key, and censors an error's `Authorization` header.
   * @default createProxyLogger() — JSON lines on standard error at `info`
   */
  logger?: Logger | undefined;
  /** Serve `GET /metrics` without the admin token (for a scraper on a private network). @default false */
  publicMetrics?: boolean | undefined;
  /**
   * How long {@link ProxyServer.close} waits for calls in flight before closing their connections.
   * @default '30s'
   */
  shutdownTimeout?: string | number | undefined;
}

/** Options of {@link ProxyServer.listen}. */
export interface ListenOptions {
  /** Interface to bind. @default '127.0.0.1' (loopback only) */
  host?: string | undefined;
  /** Port; `0` picks a free one. @default 8787 */
  port?: number | undefined;
}

/** A running Keybrake proxy; see {@link createProxyServer}. */
export interface ProxyServer {
  /** The underlying `node:http` server. */
  readonly server: Server;
  /** Starts listening; resolves with the base URL, e.g. `http://127.0.0.1:8787`. */
  listen(options?: ListenOptions): Promise<string>;
  /**
   * Graceful shutdown: stops accepting connections, lets calls in flight finish (up to
   * `shutdownTimeout`), closes idle connections, then closes the vault (flushing its audit log).
   * Idempotent.
   */
  close(): Promise<void>;
}

/** The admin API's paths, which `route` hands to `handleAdminRequest`: `/vault` and below. */
const isAdminPath = (pathname: string): boolean => pathname === '/vault' || pathname.startsWith('/vault/');

/**
 * Creates the Keybrake proxy: an HTTP server that holds no rules of its own and passes every
 * vendor call to `vault.handle`, so agents need only a vault key and a base URL.
 *
 * Routes:
 * - `/{vendor}/…` (`/stripe/v1/payment_intents`) and bare vendor paths (`/v1/payment_intents`,
 *   `/2010-04-01/…`, `/emails`), routed by the vendor of the presented vault key
 *   (`Authorization: Bearer`, or the Basic password). Optional `x-keybrake-member`,
 *   `x-keybrake-tool`, `x-keybrake-tool-call-id` headers go to the audit record.
 * - Admin (Bearer admin token): `POST /vault/keys`, `GET|DELETE /vault/keys/{id}`, `GET /vault/audit`.
 * - `GET /healthz` (public), `GET /metrics` (Prometheus; admin token unless `publicMetrics`).
 *
 * @param options - See {@link ProxyServerOptions}.
 * @returns The {@link ProxyServer}; call `listen()` to start it.
 * @throws {InvalidPolicyError} if the admin token is shorter than 16 characters or holds a space or
 *   control character, or a limit is invalid.
 * @example
 * ```ts
 * const vault = createVault({ secrets: { stripe: process.env.STRIPE_SECRET_KEY } });
 * const proxy = createProxyServer({ vault, adminToken: process.env.KEYBRAKE_ADMIN_TOKEN ?? '' });
 * const url = await proxy.listen({ port: 8787 }); // 'http://127.0.0.1:8787'
 * process.once('SIGTERM', () => void proxy.close());
 * ```
 */
export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  if (typeof options.adminToken !== 'string' || options.adminToken.length < 16) {
    throw new InvalidPolicyError({
      message:
        'The admin token must be at least 16 characters (set KEYBRAKE_ADMIN_TOKEN, e.g. `openssl rand -hex 32`).',
    });
  }
  if (!/^[\x21-\x7e]+$/.test(options.adminToken)) {
    // `Authorization: Bearer <token>` cannot carry a space, and no one could present the token.
    throw new InvalidPolicyError({
      message:
        'The admin token must be printable ASCII without spaces (a trailing newline or \\r from an env file counts); e.g. `openssl rand -hex 32`.',
    });
  }
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new InvalidPolicyError({ message: `maxBodyBytes must be a positive integer, got ${maxBodyBytes}.` });
  }
  // Past what a timer can wait (2^31 − 1 ms, about 24.8 days), Node fires it after 1 ms instead.
  const shutdownTimeoutMs = Math.min(parseDuration(options.shutdownTimeout ?? '30s'), 2 ** 31 - 1);
  // A logger passed in keeps its own redaction (pino's child `redact` would replace it): the proxy
  // never logs headers, bodies or vault keys, and censors the one foreign object it logs, `err`.
  const logger = options.logger ? withCensoredErrors(options.logger) : createProxyLogger();
  const metrics = createProxyMetrics();
  let closing: Promise<void> | undefined;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const context: ProxyContext = {
    vault: options.vault,
    logger,
    metrics,
    maxBodyBytes,
    publicMetrics: options.publicMetrics ?? false,
    isAdmin: createAdminTokenCheck(options.adminToken),
    isClosing: () => closing !== undefined,
  };

  const route = async (request: IncomingMessage, response: ServerResponse) => {
    const url = request.url ?? '/';
    if (!url.startsWith('/')) {
      writeError(response, 400, 'KEYBRAKE_INVALID_REQUEST', 'Send a path (origin-form); the proxy chooses the host.');
      return;
    }
    if (context.isClosing()) response.setHeader('connection', 'close');
    const queryStart = url.indexOf('?');
    const pathname = queryStart === -1 ? url : url.slice(0, queryStart);
    const search = queryStart === -1 ? '' : url.slice(queryStart);
    if (pathname === '/healthz') {
      if (context.isClosing()) {
        writeJson(response, 503, { status: 'closing', version: VERSION, vendors: options.vault.vendors });
        return;
      }
      // A replica whose store is unreachable denies every call: not healthy for a load balancer.
      const storage = await options.vault.checkStorage().then(
        () => 'ok' as const,
        () => 'unreachable' as const,
      );
      writeJson(response, storage === 'ok' ? 200 : 503, {
        status: storage === 'ok' ? 'ok' : 'degraded',
        storage,
        version: VERSION,
        vendors: options.vault.vendors,
      });
    } else if (pathname === '/metrics') {
      if (!context.publicMetrics && !context.isAdmin(request.headers.authorization)) {
        writeError(response, 401, 'KEYBRAKE_UNAUTHORIZED', '/metrics needs Authorization: Bearer <admin token>.', {
          headers: { 'www-authenticate': 'Bearer realm="keybrake"' },
        });
        return;
      }
      const text = Buffer.from(metrics.render());
      response.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'content-length': text.byteLength,
      });
      response.end(text);
    } else if (isAdminPath(pathname)) {
      await handleAdminRequest(context, request, response, pathname, search);
    } else {
      await handleVendorRequest(context, request, response, pathname, search);
    }
  };

  // Pipelined requests are answered one at a time: a request is handled once the answer before it
  // on its connection is sent, and never if that answer closed the connection (RFC 9112 §9.6): a
  // charge pipelined behind a 413 must not reach the vendor with no one to answer.
  const lastResponse = new WeakMap<object, ServerResponse>();
  /** The answer owed on the connection just before each one still waiting for it. */
  const ahead = new WeakMap<ServerResponse, ServerResponse>();
  /** Answers whose request turned out unreadable while they waited: `clientError` answers them. */
  const unreadable = new WeakSet<ServerResponse>();
  const server = createServer((request, response) => {
    const before = lastResponse.get(request.socket);
    lastResponse.set(request.socket, response);
    if (before === undefined) return handle(request, response);
    ahead.set(response, before);
    const next = () => {
      before.off('close', next);
      before.off('finish', next);
      ahead.delete(response);
      if (unreadable.has(response)) return;
      const closes =
        before.getHeader('connection') === 'close' || (before as ServerResponse & { _last?: boolean })._last === true;
      if (before.writableFinished && !closes && !request.socket.destroyed) handle(request, response);
      else request.socket.destroy();
    };
    if (before.writableFinished) return next();
    before.once('finish', next);
    before.once('close', next);
  });
  // A client that sends `Expect: 100-continue` waits for the go-ahead before its body. One whose
  // `Content-Length` is already over the limit gets no go-ahead but its 413 (RFC 9110 §10.1.1):
  // asking it to upload a body the proxy will not read wastes its bandwidth and ours.
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    const admin = isAdminPath((request.url ?? '/').split('?', 1)[0] as string);
    const declared = Number(request.headers['content-length']);
    if (!(declared > (admin ? MAX_ADMIN_BODY_BYTES : maxBodyBytes))) response.writeContinue();
    server.emit('request', request, response);
  });
  // A client that half-closes its side after its last request (a TCP FIN) still reads the answers
  // it is owed: a charge sent that way has moved money. (Node's default ends the connection at once;
  // `httpAllowHalfOpen` is its switch, undocumented but in node:http since v14: a test holds it.)
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // A request Node cannot read (malformed, headers too large, too slow) is answered in the proxy's
  // error shape, and only after the answers owed on the connection before it: a charge pipelined
  // ahead of it has moved money, and its client must read the outcome. Then the connection closes.
  const refused = new WeakSet<Duplex>();
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (refused.has(socket)) return; // the parser reports again on each later chunk
    refused.add(socket);
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? 400;
    logger.warn({ code: error.code, status }, 'unreadable request');
    const refuse = () => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      // The admin API's error shape (`writeError`'s), written to the socket: there is no response object.
      const wire: WireError = {
        error: {
          code: 'KEYBRAKE_INVALID_REQUEST',
          message: `Keybrake could not read this request (${error.code ?? 'malformed HTTP'}); it was not sent. The connection is closed.`,
        },
      };
      const body = JSON.stringify(wire);
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n\r\n${body}`,
        () => socket.destroy(),
      );
    };
    let owed = lastResponse.get(socket);
    if (!owed || owed.writableFinished || owed.destroyed) return refuse();
    if (!owed.req.complete) {
      // The last request is the unreadable one (its body cut short, malformed, or too slow): it is
      // never handled. If it waits behind an answer still owed (a charge at the vendor), the 400
      // follows that answer; otherwise it goes now (or, its answer begun, the connection closes).
      const before = ahead.get(owed);
      if (before === undefined) {
        if (!owed.headersSent) refuse();
        else socket.destroy();
        return;
      }
      unreadable.add(owed);
      owed = before;
    }
    const waitedFor = owed;
    const once = () => {
      waitedFor.off('finish', once);
      waitedFor.off('close', once);
      refuse();
    };
    waitedFor.once('finish', once);
    waitedFor.once('close', once);
  });
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    inFlight += 1;
    // A call is done once it is handled and its answer has left: ended but still being written
    // (a large answer outruns the socket's buffer), its connection would look idle to close().
    let pending = 2;
    const done = () => {
      pending -= 1;
      if (pending > 0) return;
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    };
    response.once('close', done);
    route(request, response)
      .catch((error: unknown) => {
        if (request.destroyed && !request.complete) {
          logger.info({ method: request.method }, 'the client closed the connection while sending');
          return;
        }
        logger.error({ err: error, method: request.method }, 'request failed');
        if (!response.headersSent) {
          writeError(response, 500, 'KEYBRAKE_INTERNAL_ERROR', 'Keybrake failed while answering this request.');
        } else response.destroy();
      })
      .finally(done);
  };

  return {
    server,
    listen(listenOptions = {}) {
      const host = listenOptions.host ?? '127.0.0.1';
      const port = listenOptions.port ?? 8787;
      return new Promise<string>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const address = server.address() as AddressInfo;
          const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          const url = `http://${shown}:${address.port}`;
          logger.info({ url, vendors: options.vault.vendors, version: VERSION }, 'listening');
          resolve(url);
        });
      });
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), shutdownTimeoutMs);
        force.unref();
        if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
        server.closeIdleConnections();
        await stopped;
        clearTimeout(force);
        // A request whose headers were still arriving when close() began, or one on a connection
        // forced closed, may still be running: the vault stays open until it is settled and audited.
        while (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
        try {
          await options.vault.close();
        } catch (error) {
          logger.error({ error: error instanceof Error ? error.message : String(error) }, 'closed with errors');
          throw error;
        }
        logger.info({}, 'closed');
      })();
      return closing;
    },
  };
}

/** The status of a request Node cannot read, by its parser's error code (else 400), as Node's own default answers. */
const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/** A child of `logger` whose `err` serializer, the logger's own or pino's, has `Authorization` censored. */
function withCensoredErrors(logger: Logger): Logger {
  const own = (logger as unknown as Record<symbol, Record<string, ((error: Error) => unknown) | undefined>>)[
    pino.symbols.serializersSym
  ]?.err;
  return logger.child({}, { serializers: { err: (error: Error) => serializeErrorWithoutCredentials(error, own) } });
}
