// Fail closed: a damaged key record or a malformed settlement never lets money move uncounted.
import { describe, expect, it } from 'vitest';
import type { CostModel } from '../costs/cost-model.js';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import type { KeyRecord } from '../keys/key-record.js';
import { createMemoryKeyStore } from '../storage/create-memory-key-store.js';
import type { KeyStore } from '../storage/key-store.js';
import { useRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { createVault, type Vault } from './create-vault.js';

/** A key store whose records come back with one field damaged (a bad write, an old schema, a hand edit). */
function corruptingStore(corrupt: (record: KeyRecord) => KeyRecord, withChain = true): KeyStore {
  const inner = createMemoryKeyStore();
  const fix = (record: KeyRecord | undefined) => (record ? corrupt(record) : record);
  const store: KeyStore = {
    ...inner,
    get: async (id) => fix(await inner.get(id)),
    getMany: async (ids) => (await inner.getMany(ids)).map(fix),
    getChain: async (id) => {
      const chain = await inner.getChain?.(id);
      return chain && ([fix(chain[0]), ...chain.slice(1).map(fix)] as [KeyRecord, ...Array<KeyRecord | undefined>]);
    },
  };
  if (!withChain) delete store.getChain;
  return store;
}

describe('failing closed', () => {
  const { upstream, vaults } = useRecordingUpstream(() => ({ body: { id: 'ch_1' } }));

  const vaultWith = (
    keyStore: KeyStore,
    costModel: CostModel = createFixedPriceCostModel({ prices: { 'POST /v1/charges': '3.00' } }),
  ) => {
    const vault = createVault({
      vendors: { acme: createBearerVendor({ name: 'acme', baseUrl: upstream.url, costModel }) },
      secrets: { acme: 'sk_acme' },
      keyStore,
    });
    vaults.push(vault);
    return vault;
  };
  const charge = (vault: Vault, vaultKey: string) =>
    vault.handle({ vaultKey, method: 'POST', path: '/v1/charges', headers: {}, body: 'amount=300' });

  describe('when a stored key record has a damaged field', () => {
    // Each damages a limit this $3 call breaks: a $1 cap, no calls left, a $1 per-call maximum.
    const cases: Array<[string, Parameters<Vault['issueKey']>[0], (record: KeyRecord) => KeyRecord]> = [
      ['capMicros NaN', { capUsd: 1 }, (record) => ({ ...record, capMicros: Number.NaN })],
      ['capMicros a string', { capUsd: 1 }, (record) => ({ ...record, capMicros: '1 USD' as unknown as number })],
      ['capMicros null', { capUsd: 1 }, (record) => ({ ...record, capMicros: null as unknown as number })],
      [
        'dailyCapMicros NaN',
        { capUsd: undefined, dailyCapUsd: 1 },
        (record) => ({ ...record, dailyCapMicros: Number.NaN }),
      ],
      ['perCallMaxMicros NaN', { perCallMaxUsd: 1 }, (record) => ({ ...record, perCallMaxMicros: Number.NaN })],
      ['maxCalls NaN', { maxCalls: 0 }, (record) => ({ ...record, maxCalls: Number.NaN })],
      ['expiresAt a string', {}, (record) => ({ ...record, expiresAt: '2000-01-01' as unknown as number })],
      ['expiresAt missing', {}, (record) => ({ ...record, expiresAt: undefined as unknown as number })],
    ];
    it.each(cases)(
      'should deny the call with a storage error, not skip the limit (%s)',
      async (_name, policy, corrupt) => {
        const vault = vaultWith(corruptingStore(corrupt));
        const key = await vault.issueKey({ vendor: 'acme', expiresIn: '1h', capUsd: 100, ...policy });
        const answer = await charge(vault, key.vaultKey);
        expect(answer.status).toBe(503);
        expect(answer.keybrake.error?.message).toMatch(/corrupt in the store/);
        expect(upstream.received).toHaveLength(0);
      },
    );

    it('should deny a call whose record lost its ancestors, whose cap would be skipped', async () => {
      for (const withChain of [true, false]) {
        const vault = vaultWith(
          corruptingStore((record) => (record.parentId ? { ...record, ancestorIds: [] } : record), withChain),
        );
        const session = await vault.issueKey({ capUsd: 1, expiresIn: '1h' });
        const member = await vault.issueKey({ parentId: session.id, vendor: 'acme' });
        const answer = await charge(vault, member.vaultKey);
        expect(answer.status).toBe(503);
        expect(upstream.received).toHaveLength(0);
      }
    });
  });

  describe('when a cost model settles with something malformed', () => {
    it('should pass the vendor answer on and keep the estimate counted, not report a denial', async () => {
      for (const malformed of [undefined, null, { kind: 'known', micros: Number.NaN }, { kind: 'maybe' }]) {
        const model: CostModel = {
          estimate: () => ({ kind: 'known', micros: 3_000_000 }),
          settle: () => malformed as never,
        };
        const vault = vaultWith(createMemoryKeyStore(), model);
        const key = await vault.issueKey({ vendor: 'acme', capUsd: 100, expiresIn: '1h' });
        const answer = await charge(vault, key.vaultKey);
        expect(answer.status).toBe(200);
        expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(3_000_000);
        const [record] = (await vault.queryAudit({ keyId: key.id })).records;
        expect(record).toMatchObject({ actualMicros: 3_000_000, note: expect.stringMatching(/malformed settlement/) });
      }
    });
  });
});
