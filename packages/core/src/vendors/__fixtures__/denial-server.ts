import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { VendorErrorResponse } from '../vendor-definition.js';

/** One request the server received. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A loopback server answering every request with one vendor-shaped denial. */
export interface DenialServer {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  port: number;
  /** Requests received since the last {@link DenialServer.answerWith}. */
  requests: ReceivedRequest[];
  /** Sets the denial to answer with and clears the received requests. */
  answerWith(response: VendorErrorResponse): void;
  close(): Promise<void>;
}

/**
 * Starts a `node:http` server on 127.0.0.1, port 0, that answers every request with the configured
 * denial and records what it received (to prove an SDK sent exactly one request).
 *
 * @example
 * ```ts
 * const server = await startDenialServer();
 * server.answerWith(stripeVendor().errorResponse(error));
 * ```
 */
export async function startDenialServer(): Promise<DenialServer> {
  let answer: VendorErrorResponse = { status: 500, headers: {}, body: '' };
  const requests: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    answerWith(response) {
      answer = response;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
