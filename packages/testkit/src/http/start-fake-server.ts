import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { FakeUpstream, FakeUpstreamOptions, RecordedRequest } from '../fake-upstream.js';
import type { FakeResponse } from './fake-response.js';
import { FakeResponseError } from './fake-response-error.js';
import { readBody } from './read-body.js';

/**
 * The vendor-specific part of a fake: how it answers, how it fails, and how it forgets.
 *
 * @example
 * ```ts
 * const vendor: FakeVendor = {
 *   handle: () => ({ status: 200, body: {} }),
 *   failure: (status, body) => ({ status, body: body ?? { message: 'failed' } }),
 *   reset: () => {},
 * };
 * ```
 */
export interface FakeVendor {
  /**
   * Answers one recorded request. May throw {@link FakeResponseError} to answer with an error.
   *
   * @param request - The recorded request.
   * @returns The response to send.
   */
  handle(request: RecordedRequest): FakeResponse | Promise<FakeResponse>;
  /**
   * Builds the response for an injected or unexpected failure.
   *
   * @param status - HTTP status.
   * @param body - Body given to `failNext`, or `undefined` for the vendor's own error shape.
   * @param detail - What went wrong, when the fake itself failed.
   * @returns The response to send.
   */
  failure(status: number, body: unknown, detail?: string): FakeResponse;
  /** Forgets the vendor's stored objects. */
  reset(): void;
}

/**
 * Options of {@link startFakeServer}: the shared upstream options plus the vendor.
 *
 * @example
 * ```ts
 * await startFakeServer({ port: 0, vendor });
 * ```
 */
export interface StartFakeServerOptions extends FakeUpstreamOptions {
  /** The vendor behaviour. */
  vendor: FakeVendor;
}

type NextAction = { kind: 'fail'; status: number; body: unknown } | { kind: 'hang' } | { kind: 'drop' };

function flattenHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function record(request: IncomingMessage, body: string): RecordedRequest {
  const path = request.url ?? '/';
  const pathname = new URL(path, 'http://fake.invalid').pathname;
  const headers = flattenHeaders(request);
  const contentType = (headers['content-type'] ?? '').toLowerCase();
  const recorded: RecordedRequest = {
    method: (request.method ?? 'GET').toUpperCase(),
    path,
    pathname,
    headers,
    body,
    receivedAt: Date.now(),
    status: 0,
  };
  if (contentType.includes('application/x-www-form-urlencoded')) {
    recorded.form = Object.fromEntries(new URLSearchParams(body));
  } else if (contentType.includes('json') && body) {
    try {
      recorded.json = JSON.parse(body);
    } catch {
      // Not JSON after all: the vendor handler answers the malformed body in its own words.
    }
  }
  return recorded;
}

function send(response: ServerResponse, answer: FakeResponse): void {
  const payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  response.writeHead(answer.status, {
    'content-type': 'application/json',
    ...answer.headers,
    'content-length': Buffer.byteLength(payload),
  });
  response.end(payload);
}

/**
 * Starts a loopback `node:http` server that records every request and lets a vendor answer it, with the shared
 * fault injection (`failNext`, `hangNext`, `dropNext`, latency, dropped connections).
 *
 * @param options - Listen options and the vendor.
 * @returns The running fake upstream.
 * @throws When the server cannot listen (e.g. the port is taken).
 * @example
 * ```ts
 * const upstream = await startFakeServer({ vendor });
 * await fetch(upstream.url);
 * await upstream.close();
 * ```
 */
export async function startFakeServer(options: StartFakeServerOptions): Promise<FakeUpstream> {
  const { vendor, host = '127.0.0.1', port = 0, latencyMs = 0, dropConnectionAfterReceive = false } = options;
  const requests: RecordedRequest[] = [];
  const next: NextAction[] = [];

  async function answer(recorded: RecordedRequest, action: NextAction | undefined): Promise<FakeResponse> {
    if (action?.kind === 'fail') return vendor.failure(action.status, action.body);
    try {
      return await vendor.handle(recorded);
    } catch (error) {
      if (error instanceof FakeResponseError) return error.response;
      const message = error instanceof Error ? error.message : String(error);
      return vendor.failure(500, undefined, `Fake upstream handler crashed: ${message}`);
    }
  }

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let body: string;
    try {
      body = await readBody(request);
    } catch {
      request.socket.destroy();
      return;
    }
    const recorded = record(request, body);
    requests.push(recorded);
    const action = next.shift();
    if (latencyMs > 0) await delay(latencyMs);
    const result = await answer(recorded, action);
    if (action?.kind === 'hang') return;
    if (action?.kind === 'drop' || dropConnectionAfterReceive) {
      request.socket.destroy();
      return;
    }
    if (response.destroyed) return;
    recorded.status = result.status;
    send(response, result);
  }

  const server = createServer((request, response) => {
    void serve(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.address.includes(':') ? `[${address.address}]` : address.address;

  return {
    url: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    requests,
    reset() {
      requests.length = 0;
      next.length = 0;
      vendor.reset();
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
    failNext(status, body) {
      next.push({ kind: 'fail', status, body });
    },
    hangNext() {
      next.push({ kind: 'hang' });
    },
    dropNext() {
      next.push({ kind: 'drop' });
    },
  };
}
