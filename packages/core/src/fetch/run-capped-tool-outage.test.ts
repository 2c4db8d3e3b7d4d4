import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { findKeybrakeError } from '../errors/find-keybrake-error.js';
import { createVault } from '../vault/create-vault.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { runCappedTool } from './run-capped-tool.js';

describe('runCappedTool after an outage of the vendor', () => {
  it("should let the tool's own later error through: an unreachable vendor is no denial", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const vault = createVault({
      vendors: {
        acme: createBearerVendor({
          name: 'acme',
          baseUrl: `http://127.0.0.1:${port}`, // nothing listens: connection refused
          costModel: createFixedPriceCostModel({ prices: { 'POST /**': 1 } }),
        }),
      },
      secrets: { acme: 'sk_secret' },
    });
    try {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const error = await runCappedTool({ member: 'crm', tool: 'sync', toolCallId: 'c1' }, async () => {
        const response = await send('http://x/v1/sync', { method: 'POST' }); // 502, nothing sent
        if (!response.ok) {
          // The tool falls back to its own store, which then fails for its own reason.
          throw new Error('local database is read-only');
        }
        return 'synced';
      }).catch((e: unknown) => e);
      expect(findKeybrakeError(error)).toBeUndefined();
      expect(error).toMatchObject({ message: 'local database is read-only' });
    } finally {
      await vault.close();
    }
  });

  it('should still stop the tool run after a call whose outcome is unknown (a 504: the charge may have gone through)', async () => {
    let received = 0;
    // The vendor takes the charge, then answers too late.
    const upstream = createServer((req, res) => {
      received += 1;
      req.resume();
      setTimeout(() => res.end('{"id":"ch_1"}'), 3000);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    const vault = createVault({
      vendors: {
        acme: createBearerVendor({
          name: 'acme',
          baseUrl: `http://127.0.0.1:${port}`,
          costModel: createFixedPriceCostModel({ prices: { 'POST /**': 1 } }),
        }),
      },
      secrets: { acme: 'sk_secret' },
      upstreamTimeout: '1s',
    });
    try {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const charge = () =>
        runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'c1' }, async () => {
          const response = await send('http://x/v1/charges', { method: 'POST' });
          if (!response.ok) throw new Error(`payment provider answered ${response.status}`);
          return 'charged';
        });
      // A retry layer outside the tool (LangChain withRetry, a Mastra step's retries) re-runs a
      // tool on any error that is not a Keybrake denial.
      let error: unknown;
      for (let attempt = 0; attempt < 2; attempt++) {
        error = await charge().catch((e: unknown) => e);
        if (findKeybrakeError(error)) break;
      }
      expect(findKeybrakeError(error)).toMatchObject({ code: 'KEYBRAKE_UPSTREAM_ERROR', outcomeUnknown: true });
      expect(received).toBe(1); // the charge that may have gone through is not sent again
    } finally {
      await vault.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  }, 20_000);
});
