import { describeKeyStoreConformance } from '@keybrake/testkit/conformance';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault } from '../vault/create-vault.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { createKeyvKeyStore } from './create-keyv-key-store.js';

describeKeyStoreConformance('createKeyvKeyStore (in-memory Keyv)', { create: () => createKeyvKeyStore() });
describeKeyStoreConformance('createKeyvKeyStore (Keyv with JSON serialisation)', {
  create: () => createKeyvKeyStore({ keyv: new Keyv() }),
});

describe('createKeyvKeyStore', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  beforeAll(async () => {
    upstream = await startRecordingUpstream();
  });
  afterAll(() => upstream.close());

  describe('when the Keyv backend fails', () => {
    it('should deny the call with KEYBRAKE_STORAGE_ERROR in the vendor shape and send nothing', async () => {
      const backing = new Map<string, unknown>();
      let broken = false;
      const flaky = {
        get: async (key: string) => {
          if (broken) throw new Error('ECONNRESET from the store');
          return backing.get(key);
        },
        set: async (key: string, value: unknown) => {
          backing.set(key, value);
          return true;
        },
        delete: async (key: string) => backing.delete(key),
        clear: async () => backing.clear(),
        has: async (key: string) => backing.has(key),
      };
      const vault = createVault({
        vendors: {
          acme: createBearerVendor({
            name: 'acme',
            baseUrl: upstream.url,
            costModel: createFixedPriceCostModel({ prices: { 'POST /**': 1 } }),
          }),
        },
        secrets: { acme: 'sk_acme_secret' },
        keyStore: createKeyvKeyStore({ keyv: new Keyv({ store: flaky }) }),
      });
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      expect(
        (await vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/charge', headers: {} })).status,
      ).toBe(200);
      broken = true;
      const denied = await vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/charge', headers: {} });
      expect(denied.status).toBe(503);
      expect(denied.keybrake.error?.code).toBe('KEYBRAKE_STORAGE_ERROR');
      expect(JSON.parse(new TextDecoder().decode(denied.body))).toMatchObject({
        error: { code: 'KEYBRAKE_STORAGE_ERROR' },
      });
      expect(upstream.received).toHaveLength(1);
      await vault.close();
    });
  });
});
