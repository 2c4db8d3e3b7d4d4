// `keybrake audit` draws sessions from at most 500 key reads, however many keys the totals name.
import { createBearerVendor, createFixedPriceCostModel, createVault } from '@keybrake/core';
import { createProxyLogger, createProxyServer, runCli } from '@keybrake/server';
import { describe, expect, it } from 'vitest';

const ADMIN_TOKEN = 'admin-token-0123456789-abcdef';

describe('keybrake audit on a proxy with many keys', () => {
  it('should read at most MAX_KEYS (500) key statuses to draw the sessions, not one per key in the totals', async () => {
    const keyReads: string[] = [];
    const vault = createVault({
      vendors: {
        acme: createBearerVendor({
          name: 'acme',
          baseUrl: 'http://127.0.0.1:9', // never reached: every call below is denied
          costModel: createFixedPriceCostModel({ prices: { 'POST /v1/charges': '5.00' } }),
        }),
      },
      secrets: { acme: 'acme_live_secret_0123456789abcdef' },
    });
    const proxy = createProxyServer({
      vault,
      adminToken: ADMIN_TOKEN,
      logger: createProxyLogger({
        level: 'info',
        destination: {
          write: (line: string) => {
            if (line.includes('"route":"/vault/keys/{id}"')) keyReads.push(line);
          },
        },
      }),
    });
    const url = await proxy.listen({ port: 0 });
    try {
      // 600 separate agent runs, each with one denied call (off its allow-list): 600 root keys in the totals.
      for (let batch = 0; batch < 6; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, async () => {
            const { vaultKey } = await vault.issueKey({ vendor: 'acme', capUsd: 10, allowedEndpoints: ['GET /v1/x'] });
            const response = await fetch(`${url}/v1/charges`, {
              method: 'POST',
              headers: { authorization: `Bearer ${vaultKey}` },
            });
            expect(response.status).toBe(403);
          }),
        );
      }
      let stdout = '';
      const code = await runCli({
        argv: ['audit', '--url', url],
        stdout: (text) => {
          stdout += text;
        },
        stderr: () => {},
        env: { KEYBRAKE_ADMIN_TOKEN: ADMIN_TOKEN },
      });
      expect(code).toBe(0);
      expect(stdout).toContain('Recent calls');
      expect(keyReads.length).toBeLessThanOrEqual(500);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});
