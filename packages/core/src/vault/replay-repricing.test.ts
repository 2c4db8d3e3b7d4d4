// A replay of a call whose outcome was unknown: the ledger raises the original (never lowers it),
// once, from what it was counted at, and the audit trail adds up to what the ledger holds.
import { afterEach, describe, expect, it } from 'vitest';
import type { CostModel } from '../costs/cost-model.js';
import { createMemoryLedger } from '../ledger/create-memory-ledger.js';
import type { Ledger } from '../ledger/ledger.js';
import { useRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { createVault, type Vault } from './create-vault.js';

const SECRET = 'acme_secret_0123456789';

/** What the upstream answers the next POSTs with (a hang outlasts the vault's 1 s upstreamTimeout). */
type Answer = { hang?: boolean; body?: unknown; headers?: Record<string, string> };
let answers: Answer[] = [];
const { upstream, vaults } = useRecordingUpstream((request) => {
  if (request.method === 'GET') return { body: { id: 'obj_1', cost: 30_000_000 } };
  const next = answers.shift() ?? {};
  return { delayMs: next.hang ? 2500 : 0, headers: next.headers, body: next.body ?? { id: 'obj_1', cost: 15_000_000 } };
});
afterEach(() => {
  answers = [];
});

/**
 * The model's price service (a mutable price), whether it names a pending price, and the header by
 * which the vendor marks a replay, if it declares one (the model settles such an answer at 0).
 */
type ModelState = { price: number; pendingRef?: boolean; replayHeader?: string; marks?: string };

/** A custom model whose estimate comes from a "price service" (a mutable price). */
function makeModel(state: ModelState): CostModel {
  return {
    estimate: async (request) =>
      request.method === 'GET' ? { kind: 'known', micros: 0 } : { kind: 'known', micros: state.price },
    settle: (request, response) => {
      if (request.method === 'GET') return { kind: 'known', micros: 0 };
      if (state.marks && response.header(state.marks) === 'true') return { kind: 'known', micros: 0 };
      const json = response.json as { cost?: number; id?: string } | undefined;
      if (response.status !== 200 || typeof json?.cost !== 'number') return { kind: 'unknown', reason: 'no cost' };
      return { kind: 'known', micros: json.cost, ...(state.pendingRef ? { pendingRef: json.id } : {}) };
    },
    reconcile: (request, response) => {
      const json = response.json as { cost?: number; id?: string } | undefined;
      return request.method === 'GET' && json?.id ? { ref: json.id, micros: json.cost ?? 0 } : undefined;
    },
  };
}

function makeVault(state: ModelState, ledger?: Ledger) {
  const vault = createVault({
    vendors: {
      acme: createBearerVendor({
        name: 'acme',
        baseUrl: upstream.url,
        costModel: makeModel(state),
        honorsIdempotencyKey: true,
        replayHeader: state.replayHeader,
      }),
    },
    secrets: { acme: SECRET },
    upstreamTimeout: 1,
    ledger,
  });
  vaults.push(vault);
  return vault;
}

const charge = (vault: Vault, vaultKey: string) =>
  vault.handle({
    vaultKey,
    method: 'POST',
    path: '/v1/charges',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'idem-1' },
    body: '{"amount":1}',
  });

const auditSum = async (vault: Vault, keyId: string) => {
  const { records } = await vault.queryAudit({ keyId });
  // Latest revision of each call.
  const latest = new Map<string, { actualMicros: number; revision?: number }>();
  for (const record of records) {
    const seen = latest.get(record.id);
    if (!seen || (record.revision ?? 0) > (seen.revision ?? 0)) latest.set(record.id, record);
  }
  return [...latest.values()].reduce((sum, record) => sum + record.actualMicros, 0);
};

/** A vault on the acme fake, a key on it, and the key's `Idempotency-Key` charge. */
async function setup(state: ModelState, ledger?: Ledger) {
  const vault = makeVault(state, ledger);
  const key = await vault.issueKey({ vendor: 'acme', capUsd: 1000 });
  const spent = async () => (await vault.getKeyStatus(key.id)).spentMicros;
  return { vault, key, spent, send: async () => (await charge(vault, key.vaultKey)).status };
}

describe('re-pricing of a replay', () => {
  it.each([
    ['lower than it holds: never lowered', 15_000_000, 20_000_000],
    ["more than it holds: raised, from what it holds, not from the retry's estimate", 25_000_000, 25_000_000],
  ])(
    'should re-price the original of unknown outcome when the answer says %s',
    async (_, cost, counted) => {
      const state = { price: 20_000_000 };
      const { vault, key, spent, send } = await setup(state);
      answers = [{ hang: true }, { body: { id: 'obj_1', cost } }];
      expect(await send()).toBe(504);
      expect(await spent()).toBe(20_000_000);
      // The price service now quotes less: the retry's estimate is $10.
      state.price = 10_000_000;
      expect(await send()).toBe(200);
      expect(await spent()).toBe(counted);
      expect(await auditSum(vault, key.id)).toBe(counted);
    },
    20_000,
  );

  it.each([
    ['declares the header it marks replays with: priced as the call it replays', 'X-Replayed', 25_000_000],
    ['does not declare it: priced as the model prices a replay (0), the original kept', undefined, 20_000_000],
  ])(
    'should re-price the original from an answer the vendor marks as a replay, when the vendor %s',
    async (_, replayHeader, counted) => {
      const { vault, key, spent, send } = await setup({ price: 20_000_000, replayHeader, marks: 'x-replayed' });
      answers = [{ hang: true }, { body: { id: 'obj_1', cost: 25_000_000 }, headers: { 'x-replayed': 'true' } }];
      expect(await send()).toBe(504);
      expect(await send()).toBe(200);
      expect(await spent()).toBe(counted);
      expect(await auditSum(vault, key.id)).toBe(counted);
    },
    20_000,
  );

  it('should leave the original at its estimate with a ledger that cannot re-price, and the audit should add up', async () => {
    const memory = createMemoryLedger();
    // A ledger implemented without the optional repriceUnknown.
    const plain: Ledger = {
      reserve: (request) => memory.reserve(request),
      settle: (request) => memory.settle(request),
      balance: (keyId, now) => memory.balance(keyId, now),
    };
    const { vault, key, spent, send } = await setup({ price: 1_000_000 }, plain);
    answers = [{ hang: true }, { body: { id: 'obj_1', cost: 5_000_000 } }, { body: { id: 'obj_1', cost: 5_000_000 } }];
    expect([await send(), await send(), await send()]).toEqual([504, 200, 200]);
    expect(await spent()).toBe(1_000_000);
    expect(await auditSum(vault, key.id)).toBe(1_000_000);
  }, 20_000);

  it('should answer the retry and say so in its audit record when the ledger fails to re-price', async () => {
    const memory = createMemoryLedger();
    const failing: Ledger = {
      ...memory,
      repriceUnknown: async () => {
        throw new Error('Redis is down');
      },
    };
    const { vault, key, spent, send } = await setup({ price: 1_000_000 }, failing);
    answers = [{ hang: true }, { body: { id: 'obj_1', cost: 5_000_000 } }];
    expect([await send(), await send()]).toEqual([504, 200]);
    expect(await spent()).toBe(1_000_000);
    const { records } = await vault.queryAudit({ keyId: key.id });
    expect(records[0]).toMatchObject({ outcome: 'replayed', actualMicros: 0 });
    expect(records[0]?.note).toMatch(/re-pricing it at \$5\.00 failed \(Error\); it stays counted as it was/);
  }, 20_000);

  it('should leave a replayed call of known price alone, and still apply its late price', async () => {
    const { vault, key, spent, send } = await setup({ price: 10_000_000, pendingRef: true });
    answers = [{ body: { id: 'obj_1', cost: 15_000_000 } }, { body: { id: 'obj_1', cost: 15_000_000 } }];
    expect(await send()).toBe(200);
    expect(await spent()).toBe(15_000_000);
    // A retry the vendor replays: the original's outcome was known, the replay counts nothing.
    expect(await send()).toBe(200);
    expect(await spent()).toBe(15_000_000);
    expect(await auditSum(vault, key.id)).toBe(15_000_000);
    // The vendor's real price arrives late ($30): it replaces the original's settlement.
    const read = await vault.handle({ vaultKey: key.vaultKey, method: 'GET', path: '/v1/objects/obj_1', headers: {} });
    expect(read.status).toBe(200);
    expect(await spent()).toBe(30_000_000);
  }, 20_000);
});
