import { randomUUID } from 'node:crypto';
import {
  type AuditRecord,
  createBearerVendor,
  createFixedPriceCostModel,
  createKeyvKeyStore,
  createVault,
  EXPIRED_KEY_RETENTION_MS,
  type KeyRecord,
  type Ledger,
} from '@keybrake/core';
import { describeKeyStoreConformance } from '@keybrake/testkit/conformance';
import KeyvRedis from '@keyv/redis';
import { createClient } from '@redis/client';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisLedger } from '../ledger/create-redis-ledger.js';
import { type RedisServer, startRedisServer } from '../testing/start-redis-server.js';
import { createRedisKeyStore } from './create-redis-key-store.js';

const NOW = Date.UTC(2026, 10, 26, 12);

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.close());

const uniquePrefix = () => `test:${randomUUID()}:`;
const record = (id: string, extra: Partial<KeyRecord> = {}): KeyRecord => ({
  id,
  hash: `hash-${id}`,
  mode: 'test',
  vendor: 'acme',
  ancestorIds: [],
  rootId: id,
  label: `label-${id}`,
  capMicros: 5_000_000,
  expiresAt: NOW + 3_600_000,
  createdAt: NOW,
  metadata: { team: 'billing', nested: { n: 1 } },
  ...extra,
});

// Every test uses fresh key ids, so one prefix serves them all; two stores per test share it.
const conformancePrefix = uniquePrefix();
describeKeyStoreConformance('createRedisKeyStore', {
  create: () => createRedisKeyStore({ url: redis.url, prefix: conformancePrefix }),
  shared: true,
});

describe('createRedisKeyStore', () => {
  describe('when records are created and read', () => {
    it('should return what was stored, through any replica, and undefined for unknown ids', async () => {
      const prefix = uniquePrefix();
      const [a, b] = [createRedisKeyStore({ url: redis.url, prefix }), createRedisKeyStore({ url: redis.url, prefix })];
      try {
        const root = record('kbk_root');
        const child = record('kbk_child', { parentId: 'kbk_root', ancestorIds: ['kbk_root'], rootId: 'kbk_root' });
        await a.create(root);
        await a.create(child);
        expect(await b.get('kbk_root')).toEqual(root);
        expect(await b.get('kbk_missing')).toBeUndefined();
        expect(await b.getMany(['kbk_child', 'kbk_missing', 'kbk_root'])).toEqual([child, undefined, root]);
        expect(await b.getMany([])).toEqual([]);
        expect(await b.children('kbk_root')).toEqual(['kbk_child']);
        expect(await b.children('kbk_child')).toEqual([]);
      } finally {
        await Promise.all([a.close?.(), b.close?.()]);
      }
    });

    it('should store the record under {prefix}key:{id} and children in a Redis set', async () => {
      const prefix = uniquePrefix();
      const store = createRedisKeyStore({ url: redis.url, prefix });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        await store.create(record('kbk_p'));
        await store.create(record('kbk_c', { parentId: 'kbk_p', ancestorIds: ['kbk_p'], rootId: 'kbk_p' }));
        expect((await admin.keys(`${prefix}*`)).sort()).toEqual(
          [`${prefix}children:kbk_p`, `${prefix}key:kbk_c`, `${prefix}key:kbk_p`].sort(),
        );
        expect(await admin.type(`${prefix}children:kbk_p`)).toBe('set');
      } finally {
        await store.close?.();
        await admin.close();
      }
    });
  });

  describe('when a key chain is read in one round trip (getChain)', () => {
    it('should return the key, then its ancestors with their revocations, and read a known chain again with one MGET', async () => {
      const prefix = uniquePrefix();
      const [store, replica] = [
        createRedisKeyStore({ url: redis.url, prefix }),
        createRedisKeyStore({ url: redis.url, prefix }),
      ];
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        const root = record('kbk_root', { capMicros: 9_007_199_254_740_991 });
        const mid = record('kbk_mid', { parentId: 'kbk_root', ancestorIds: ['kbk_root'], rootId: 'kbk_root' });
        const leaf = record('kbk_leaf', {
          parentId: 'kbk_mid',
          ancestorIds: ['kbk_mid', 'kbk_root'],
          rootId: 'kbk_root',
        });
        for (const entry of [root, mid, leaf]) await store.create(entry);
        await store.revoke(['kbk_root'], NOW + 5);
        await store.getChain?.('kbk_missing'); // loads the script into Redis
        const commands = await admin.info('commandstats');
        expect(await store.getChain?.('kbk_leaf')).toEqual([leaf, mid, { ...root, revokedAt: NOW + 5 }]);
        expect(await store.getChain?.('kbk_root')).toEqual([{ ...root, revokedAt: NOW + 5 }]);
        expect(await store.getChain?.('kbk_missing')).toBeUndefined();
        expect(await store.getChain?.('kbk_leaf')).toEqual([leaf, mid, { ...root, revokedAt: NOW + 5 }]);
        // A script for each chain read first (and for an unknown key, every time); a chain read
        // again costs one MGET of its revocation markers and no script.
        const calls = (stats: string, name: string) =>
          Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
        const after = await admin.info('commandstats');
        expect(calls(after, 'mget') - calls(commands, 'mget')).toBe(1);
        expect(
          calls(after, 'evalsha') + calls(after, 'eval') - calls(commands, 'evalsha') - calls(commands, 'eval'),
        ).toBe(3);

        // A revocation through another replica shows on the very next read of a chain read before.
        await replica.revoke(['kbk_mid'], NOW + 7);
        expect(await store.getChain?.('kbk_leaf')).toEqual([
          leaf,
          { ...mid, revokedAt: NOW + 7 },
          { ...root, revokedAt: NOW + 5 },
        ]);

        // A missing parent reads as undefined, and such a chain is not kept: it is read whole again.
        await admin.del(`${prefix}key:kbk_mid`);
        expect(await replica.getChain?.('kbk_leaf')).toEqual([leaf, undefined, { ...root, revokedAt: NOW + 5 }]);
        await replica.create(mid);
        expect(await replica.getChain?.('kbk_leaf')).toEqual([
          leaf,
          { ...mid, revokedAt: NOW + 7 },
          { ...root, revokedAt: NOW + 5 },
        ]);
      } finally {
        await Promise.all([store.close?.(), replica.close?.()]);
        await admin.close();
      }
    });
    it('should read strings that start with a colon back unchanged, as Keyv stored them', async () => {
      const prefix = uniquePrefix();
      const store = createRedisKeyStore({ url: redis.url, prefix });
      try {
        const root = record('kbk_root', { label: ':team', metadata: { note: ':colon', tags: ['plain', ':tag'] } });
        const leaf = record('kbk_leaf', {
          parentId: 'kbk_root',
          ancestorIds: ['kbk_root'],
          rootId: 'kbk_root',
          metadata: { ':key': 'a colon in a key only', url: 'https://example.com:443/x' },
        });
        const buffer = record('kbk_buffer', { metadata: { text: ':base64:aGk=' } });
        for (const entry of [root, leaf, buffer]) await store.create(entry);
        expect(await store.getChain?.('kbk_leaf')).toEqual([leaf, root]);
        expect(await store.getChain?.('kbk_buffer')).toEqual([buffer]);
        expect(await store.get('kbk_root')).toEqual(root);
      } finally {
        await store.close?.();
      }
    });
  });

  describe('when keys are revoked', () => {
    it('should keep the first revocation time and ignore unknown ids', async () => {
      const prefix = uniquePrefix();
      const store = createRedisKeyStore({ url: redis.url, prefix });
      try {
        await store.create(record('kbk_a'));
        await Promise.all([store.revoke(['kbk_a', 'kbk_ghost'], NOW + 10), store.revoke(['kbk_a'], NOW + 20)]);
        await store.revoke(['kbk_a'], NOW + 30);
        const revokedAt = (await store.get('kbk_a'))?.revokedAt;
        expect([NOW + 10, NOW + 20]).toContain(revokedAt);
        expect(await store.get('kbk_ghost')).toBeUndefined();
      } finally {
        await store.close?.();
      }
    });

    it('should make a Keyv key store on Redis shared too, so a memory ledger beside it is refused', async () => {
      const keyv = new Keyv({ store: new KeyvRedis(redis.url), namespace: uniquePrefix() });
      try {
        const store = createKeyvKeyStore({ keyv });
        expect(store.shared).toBe(true);
        expect(() => createVault({ keyStore: store, secrets: { stripe: 'sk_test_x' } })).toThrow(
          /The key store is shared with other processes/,
        );
        expect(createKeyvKeyStore().shared).toBe(false);
      } finally {
        await keyv.disconnect();
      }
    });

    it("should not be given to a vault without the shared ledger (each replica's memory ledger would allow the whole cap)", async () => {
      const store = createRedisKeyStore({ url: redis.url, prefix: uniquePrefix() });
      try {
        expect(() => createVault({ keyStore: store, secrets: { stripe: 'sk_test_x' } })).toThrow(
          /The key store is shared with other processes \(Redis, Keyv on a shared backend\) but the ledger is not/,
        );
      } finally {
        await store.close?.();
      }
    });

    it('should deny a whole key tree on its next call through another vault (vault.revokeKey)', async () => {
      const prefix = uniquePrefix();
      const vendors = {
        acme: createBearerVendor({
          name: 'acme',
          baseUrl: 'http://127.0.0.1:9',
          costModel: createFixedPriceCostModel({ prices: {}, defaultUsd: 0 }),
        }),
      };
      const [storeA, storeB] = [
        createRedisKeyStore({ url: redis.url, prefix }),
        createRedisKeyStore({ url: redis.url, prefix }),
      ];
      // Replicas on one Redis key store share its ledger too (createVault refuses a memory ledger there).
      const ledger = (): Ledger => createRedisLedger({ url: redis.url, prefix });
      const vaultA = createVault({ keyStore: storeA, ledger: ledger(), vendors, secrets: { acme: 'sk' } });
      const vaultB = createVault({ keyStore: storeB, ledger: ledger(), vendors, secrets: { acme: 'sk' } });
      try {
        const session = await vaultA.issueKey({ capUsd: 10, label: 'session' });
        const member = await vaultA.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 5 });
        const grandchild = await vaultA.issueKey({ parentId: member.id, capUsd: 1 });
        expect((await vaultB.getKeyStatus(grandchild.id)).revoked).toBe(false);
        // vaultA has read the member's key chain before (and keeps it): revocation must still show.
        const before = await vaultA.handle({
          method: 'GET',
          path: '/v1/things',
          headers: {},
          vaultKey: member.vaultKey,
        });
        expect(before.keybrake.keyId).toBe(member.id);
        expect(before.keybrake.error?.code).not.toBe('KEYBRAKE_KEY_REVOKED');
        const { revoked } = await vaultB.revokeKey(session.id);
        expect(revoked.sort()).toEqual([session.id, member.id, grandchild.id].sort());
        for (const id of revoked) expect((await storeA.get(id))?.revokedAt).toBeTypeOf('number');
        const response = await vaultA.handle({
          method: 'GET',
          path: '/v1/things',
          headers: {},
          vaultKey: member.vaultKey,
        });
        expect(response.status).toBe(401);
        expect(response.keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
      } finally {
        await Promise.all([vaultA.close(), vaultB.close()]);
      }
    });
  });

  describe('when a price arrives late', () => {
    it('should hand a pending record to exactly one taker, and forget it after its TTL', async () => {
      const prefix = uniquePrefix();
      const [a, b] = [createRedisKeyStore({ url: redis.url, prefix }), createRedisKeyStore({ url: redis.url, prefix })];
      try {
        const pending: AuditRecord = {
          id: 'audit-1',
          time: new Date(NOW).toISOString(),
          keyId: 'kbk_a',
          labelChain: ['a'],
          method: 'POST',
          path: '/v1/messages',
          decision: 'allowed',
          estimatedMicros: 8300,
          actualMicros: 8300,
          latencyMs: 12,
        };
        await a.putPending('twilio:SM1', pending, 60_000);
        const taken = await Promise.all([a.takePending('twilio:SM1'), b.takePending('twilio:SM1')]);
        expect(taken.filter((entry) => entry !== undefined)).toEqual([pending]);
        await a.putPending('twilio:SM2', pending, 30);
        await new Promise((resolve) => setTimeout(resolve, 80));
        expect(await b.takePending('twilio:SM2')).toBeUndefined();
      } finally {
        await Promise.all([a.close?.(), b.close?.()]);
      }
    });
  });

  describe('when Redis is unreachable', () => {
    it('should throw a StorageError rather than report a key as missing', async () => {
      const store = createRedisKeyStore({ url: 'redis://127.0.0.1:1', connectTimeout: '200ms' });
      try {
        await expect(store.get('kbk_a')).rejects.toMatchObject({
          code: 'KEYBRAKE_STORAGE_ERROR',
          message: 'Keybrake cannot reach Redis at redis://127.0.0.1:1; the call is denied.',
        });
        await expect(store.getMany(['kbk_a'])).rejects.toMatchObject({ code: 'KEYBRAKE_STORAGE_ERROR' });
        await expect(store.takePending('x')).rejects.toMatchObject({ code: 'KEYBRAKE_STORAGE_ERROR' });
      } finally {
        await store.close?.();
      }
    });
  });

  describe('when a key has been expired for longer than the retention', () => {
    it('should let Redis expire its record, revocation marker and children set then, relative to the issuing clock', async () => {
      const prefix = uniquePrefix();
      const store = createRedisKeyStore({ url: redis.url, prefix });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        const HOUR = 3_600_000;
        // Issued by a vault whose clock is a year behind Redis's: the expiry is relative to it.
        const issuedAt = NOW - 365 * 24 * HOUR;
        await store.create(record('kbk_p', { createdAt: issuedAt, expiresAt: issuedAt + 2 * HOUR }));
        await store.create(
          record('kbk_c', {
            parentId: 'kbk_p',
            ancestorIds: ['kbk_p'],
            rootId: 'kbk_p',
            createdAt: issuedAt,
            expiresAt: issuedAt + HOUR,
          }),
        );
        await store.revoke(['kbk_c'], issuedAt);
        const ttl = async (name: string) => admin.pTTL(`${prefix}${name}`);
        const near = (value: number, expected: number) => Math.abs(value - expected) < 5_000;
        expect(near(await ttl('key:kbk_p'), 2 * HOUR + EXPIRED_KEY_RETENTION_MS)).toBe(true);
        expect(near(await ttl('key:kbk_c'), HOUR + EXPIRED_KEY_RETENTION_MS)).toBe(true);
        expect(near(await ttl('revoked:kbk_c'), HOUR + EXPIRED_KEY_RETENTION_MS)).toBe(true);
        expect(near(await ttl('children:kbk_p'), 2 * HOUR + EXPIRED_KEY_RETENTION_MS)).toBe(true);
        // A revocation that lands between the record's write and its TTL's finds no TTL to copy:
        // its marker, as it then stands, is given the record's.
        await admin.set(`${prefix}revoked:kbk_r`, String(issuedAt));
        await store.create(record('kbk_r', { createdAt: issuedAt, expiresAt: issuedAt + HOUR }));
        expect(near(await ttl('revoked:kbk_r'), HOUR + EXPIRED_KEY_RETENTION_MS)).toBe(true);
        expect(await store.get('kbk_r')).toMatchObject({ revokedAt: issuedAt });

        // Issued already expired, with 100 ms of its retention left.
        const createdAt = Date.now();
        await store.create(record('kbk_old', { createdAt, expiresAt: createdAt + 100 - EXPIRED_KEY_RETENTION_MS }));
        await store.revoke(['kbk_old'], createdAt);
        expect(await store.get('kbk_old')).toMatchObject({ revokedAt: createdAt });
        await new Promise((resolve) => setTimeout(resolve, 250));
        expect(await store.get('kbk_old')).toBeUndefined();
        expect(await admin.exists([`${prefix}key:kbk_old`, `${prefix}revoked:kbk_old`])).toBe(0);
      } finally {
        await admin.quit();
        await store.close?.();
      }
    });
  });
});
