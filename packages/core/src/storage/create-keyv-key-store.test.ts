import { describeKeyStoreConformance } from '@keybrake/testkit/conformance';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { createMemoryLedger } from '../ledger/create-memory-ledger.js';
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
    /** A vault over a Keyv backend whose reads of the keys `failing` matches throw, as a network store's can. */
    const flakyVault = () => {
      const backing = new Map<string, unknown>();
      let failing = (_key: string) => false;
      const flaky = {
        get: async (key: string) => {
          if (failing(key)) throw new Error('ECONNRESET from the store');
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
      const charge = (vaultKey: string) => vault.handle({ vaultKey, method: 'POST', path: '/charge', headers: {} });
      const fail = (match: (key: string) => boolean) => {
        failing = match;
      };
      return { vault, backing, charge, fail };
    };

    it('should deny the call with KEYBRAKE_STORAGE_ERROR in the vendor shape and send nothing', async () => {
      const { vault, charge, fail } = flakyVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      expect((await charge(key.vaultKey)).status).toBe(200);
      fail(() => true);
      const denied = await charge(key.vaultKey);
      expect(denied.status).toBe(503);
      expect(denied.keybrake.error?.code).toBe('KEYBRAKE_STORAGE_ERROR');
      expect(JSON.parse(new TextDecoder().decode(denied.body))).toMatchObject({
        error: { code: 'KEYBRAKE_STORAGE_ERROR' },
      });
      expect(upstream.received).toHaveLength(1);
      await vault.close();
    });

    it('should deny a call whose ancestor cannot be read as a storage error, not as a missing key', async () => {
      const { vault, charge, fail } = flakyVault();
      const session = await vault.issueKey({ capUsd: 10 });
      const member = await vault.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 5 });
      const sent = upstream.received.length;
      fail((key) => key.endsWith(session.id));
      const denied = await charge(member.vaultKey);
      expect([denied.status, denied.keybrake.error?.code]).toEqual([503, 'KEYBRAKE_STORAGE_ERROR']);
      // Nor is a key issued with the unreadable ancestor left out of its chain.
      await expect(vault.issueKey({ parentId: member.id, vendor: 'acme' })).rejects.toMatchObject({
        code: 'KEYBRAKE_STORAGE_ERROR',
      });
      expect(upstream.received).toHaveLength(sent);
      await vault.close();
    });

    it('should refuse to issue a key under a parent whose ancestor is missing from the store', async () => {
      const { vault, backing } = flakyVault();
      const session = await vault.issueKey({ capUsd: 10 });
      const member = await vault.issueKey({ parentId: session.id, capUsd: 5 });
      for (const key of backing.keys()) if (key.endsWith(`key:${session.id}`)) backing.delete(key);
      await expect(vault.issueKey({ parentId: member.id, vendor: 'acme' })).rejects.toThrow(
        `Cannot issue a key under ${member.id}: its ancestor ${session.id} is missing from the key store.`,
      );
      await vault.close();
    });
  });

  it('should keep every child issued at once through two stores over one Keyv (two vaults of one process)', async () => {
    const keyv = new Keyv();
    const ledger = createMemoryLedger();
    const [a, b] = [
      createVault({ ledger, keyStore: createKeyvKeyStore({ keyv }) }),
      createVault({ ledger, keyStore: createKeyvKeyStore({ keyv }) }),
    ];
    const session = await a.issueKey({ capUsd: 10 });
    const children = await Promise.all(
      [a, b, a, b].map((vault) => vault.issueKey({ parentId: session.id, capUsd: 1 })),
    );
    const { revoked } = await a.revokeKey(session.id);
    expect(revoked.sort()).toEqual([session.id, ...children.map((child) => child.id)].sort());
    await Promise.all([a.close(), b.close()]);
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
