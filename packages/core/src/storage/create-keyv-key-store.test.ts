import { describeKeyStoreConformance } from '@keybrake/testkit/conformance';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { EXPIRED_KEY_RETENTION_MS } from '../ledger/ledger.js';
import { makeKeyRecord } from '../test-utils/make-key-record.js';
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
        // A store this process alone uses (a shared one would need a shared ledger).
        keyStore: createKeyvKeyStore({ keyv: new Keyv({ store: flaky }), shared: false }),
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

  describe('when a key has been expired for longer than the retention', () => {
    it('should have written its record, revocation and children list to expire then, relative to its issuing clock', async () => {
      const backing = new Map<string, unknown>();
      const store = createKeyvKeyStore({ keyv: new Keyv({ store: backing }) });
      const HOUR = 3_600_000;
      // Issued by a vault whose clock is a year behind this process's: the expiry is relative.
      const issuedAt = Date.now() - 365 * 24 * HOUR;
      const root = makeKeyRecord('kbk_root', { createdAt: issuedAt, lifeMs: 2 * HOUR });
      const child = makeKeyRecord('kbk_child', { parent: root, createdAt: issuedAt, lifeMs: HOUR });
      await store.create(root);
      await store.create(child);
      await store.revoke(['kbk_child'], issuedAt + HOUR / 2);
      const expiresOf = (key: string) => {
        const stored = backing.get(key);
        return (typeof stored === 'string' ? JSON.parse(stored) : stored)?.expires as number | undefined;
      };
      const near = (value: number | undefined, expected: number) => Math.abs((value ?? 0) - expected) < 5_000;
      const fromNow = (ms: number) => Date.now() + ms;
      expect(near(expiresOf('keyv:key:kbk_root'), fromNow(2 * HOUR + EXPIRED_KEY_RETENTION_MS))).toBe(true);
      expect(near(expiresOf('keyv:key:kbk_child'), fromNow(HOUR / 2 + EXPIRED_KEY_RETENTION_MS))).toBe(true);
      expect(near(expiresOf('keyv:children:kbk_root'), fromNow(2 * HOUR + EXPIRED_KEY_RETENTION_MS))).toBe(true);
      expect(await store.get('kbk_child')).toMatchObject({ revokedAt: issuedAt + HOUR / 2 });
    });

    it('should no longer return a record once its retention is over', async () => {
      const store = createKeyvKeyStore();
      // Issued already expired, with 50 ms of its retention left.
      await store.create(makeKeyRecord('kbk_old', { createdAt: Date.now(), lifeMs: 50 - EXPIRED_KEY_RETENTION_MS }));
      expect(await store.get('kbk_old')).toMatchObject({ id: 'kbk_old' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await store.get('kbk_old')).toBeUndefined();
    });
  });
});
