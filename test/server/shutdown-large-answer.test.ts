// A call let finish by close() is done once its answer has left, not once it is handed to the
// socket: an 8 MB answer outruns the socket buffer, and its connection must not be closed as idle.
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBearerVendor, createFixedPriceCostModel, createVault } from '@keybrake/core';
import { createProxyLogger, createProxyServer } from '@keybrake/server';
import { describe, expect, it } from 'vitest';

const SECRET = 'acme_live_secret_0123456789abcdef';
const BODY_BYTES = 8 * 1024 * 1024;

describe('graceful shutdown with a call in flight whose answer is large', () => {
  it('should deliver the whole answer of the call it let finish, not cut it when it closes idle connections', async () => {
    // The vendor takes 300 ms, then answers a large JSON body (a long list, say).
    const big = JSON.stringify({ object: 'list', data: 'x'.repeat(BODY_BYTES) });
    const upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(big);
        }, 300),
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    const vault = createVault({
      vendors: {
        acme: createBearerVendor({
          name: 'acme',
          baseUrl: `http://127.0.0.1:${port}`,
          costModel: createFixedPriceCostModel({ prices: { 'POST /v1/charges': '5.00' } }),
        }),
      },
      secrets: { acme: SECRET },
    });
    const proxy = createProxyServer({
      vault,
      adminToken: 'admin-token-0123456789-abcdef',
      logger: createProxyLogger({ level: 'silent' }),
    });
    const url = new URL(await proxy.listen({ port: 0 }));
    const { vaultKey } = await vault.issueKey({ vendor: 'acme', capUsd: 100 });

    // The client reads the answer as fast as it comes.
    const answer = new Promise<{ status: number; bytes: number; error?: string }>((resolve) => {
      const outgoing = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/v1/charges',
          headers: { authorization: `Bearer ${vaultKey}`, 'content-length': '0' },
        },
        (response) => {
          let bytes = 0;
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.byteLength;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes }));
          response.on('error', (error) => resolve({ status: response.statusCode ?? 0, bytes, error: error.message }));
          response.on('aborted', () => resolve({ status: response.statusCode ?? 0, bytes, error: 'aborted' }));
        },
      );
      outgoing.on('error', (error) => resolve({ status: 0, bytes: 0, error: error.message }));
      outgoing.end();
    });
    await new Promise((resolve) => setTimeout(resolve, 100)); // the call is at the vendor
    const closed = proxy.close();

    const result = await answer;
    await closed;
    upstream.close();
    // The charge was made and counted: its client must be able to read its answer.
    const { records } = await vault.queryAudit({});
    expect(records[0]).toMatchObject({ decision: 'allowed', outcome: 'settled' });
    expect(result).toEqual({ status: 200, bytes: Buffer.byteLength(big) });
  });
});
