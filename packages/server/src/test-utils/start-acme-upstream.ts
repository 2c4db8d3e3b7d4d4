import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBearerVendor, createFixedPriceCostModel, type VendorDefinition } from '@keybrake/core';

/** A request the Acme upstream received. */
export interface AcmeRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** The real Acme secret the tests' vaults hold. */
export const ACME_SECRET = 'acme_live_secret_0123456789abcdef';

/**
 * A test vendor, `acme`: Bearer auth, `POST /v1/charges` $5, `POST /v1/big` $60, reads free.
 *
 * @example
 * ```ts
 * const vault = createVault({ vendors: { acme: createAcmeVendor(upstream.url) }, secrets: { acme: ACME_SECRET } });
 * ```
 */
export function createAcmeVendor(baseUrl: string): VendorDefinition<string> {
  return createBearerVendor({
    name: 'acme',
    baseUrl,
    requestIdHeader: 'request-id',
    costModel: createFixedPriceCostModel({
      prices: { 'POST /v1/charges': '5.00', 'POST /v1/big': '60', 'GET /**': 0 },
    }),
  });
}

/**
 * A loopback JSON upstream for the server's tests: records requests and answers
 * `{ ok: true, path }` after `delayMs` (settable per test).
 *
 * @example
 * ```ts
 * const upstream = await startAcmeUpstream();
 * upstream.delayMs = 200;
 * ```
 */
export async function startAcmeUpstream() {
  const received: AcmeRequest[] = [];
  const state = { delayMs: 0 };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    if (state.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, state.delayMs));
    res.writeHead(200, {
      'content-type': 'application/json',
      'request-id': `req_${received.length}`,
      'set-cookie': ['a=1', 'b=2'],
    });
    res.end(JSON.stringify({ ok: true, path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
