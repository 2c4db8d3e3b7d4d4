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
});
