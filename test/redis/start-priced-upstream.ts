import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { priceOf } from './create-acme-vendor.js';

/** One request the upstream received, and what it billed for it. */
export interface PricedRequest {
  method: string;
  path: string;
  /** The `x-worker` header: which process sent it. */
  worker: string | undefined;
  authorization: string | undefined;
  costMicros: number;
}

/** A loopback vendor that bills each request by its path; see {@link startPricedUpstream}. */
export interface PricedUpstream {
  url: string;
  /** Every request, recorded on arrival (before any delay), so a caller killed mid-call is still billed. */
  received: PricedRequest[];
  /** What the vendor billed in total, micro-dollars, for requests matching `filter`. */
  billed(filter?: (request: PricedRequest) => boolean): number;
  close(): Promise<void>;
}

/**
 * Starts a loopback `node:http` vendor that records and bills every request; `/v1/charges/slow`
 * answers after `slowMs`, so calls stay open (reserved, unsettled) for a while.
 *
 * @example
 * ```ts
 * const upstream = await startPricedUpstream({ slowMs: 250 });
 * upstream.billed(); // micro-dollars received so far
 * ```
 */
export async function startPricedUpstream(options: { slowMs?: number } = {}): Promise<PricedUpstream> {
  const received: PricedRequest[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const worker = req.headers['x-worker'];
      received.push({
        method,
        path,
        worker: typeof worker === 'string' ? worker : undefined,
        authorization: req.headers.authorization,
        costMicros: priceOf(method, path),
      });
      const reply = () => {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${received.length}` });
        res.end(JSON.stringify({ id: `ch_${received.length}` }));
      };
      if (path === '/v1/charges/slow') setTimeout(reply, options.slowMs ?? 250);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    billed: (filter = () => true) => received.filter(filter).reduce((total, request) => total + request.costMicros, 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
