// A replay of a call whose outcome was unknown: the ledger raises the original (never lowers it),
// once, from what it was counted at, and the audit trail adds up to what the ledger holds.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CostModel } from '../costs/cost-model.js';
import { createMemoryLedger } from '../ledger/create-memory-ledger.js';
import type { Ledger } from '../ledger/ledger.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { createVault, type Vault } from './create-vault.js';

const SECRET = 'acme_secret_0123456789';

type Answer = { hang?: boolean; body?: unknown };
let answers: Answer[] = [];
let server: ReturnType<typeof createServer>;
let url: string;

beforeAll(async () => {
  server = createServer(async (req, res) => {
    for await (const _ of req);
    const next = req.method === 'GET' ? { body: { id: 'obj_1', cost: 30_000_000 } } : (answers.shift() ?? {});
    if (next.hang) await new Promise((resolve) => setTimeout(resolve, 2500));
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(next.body ?? { id: 'obj_1', cost: 15_000_000 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

let vaults: Vault[] = [];
afterEach(async () => {
  await Promise.all(vaults.map((vault) => vault.close()));
  vaults = [];
  answers = [];
});

/** A custom model whose estimate comes from a "price service" (a mutable price). */
function makeModel(state: { price: number; pendingRef?: boolean }): CostModel {
  return {
    estimate: async (request) =>
      request.method === 'GET' ? { kind: 'known', micros: 0 } : { kind: 'known', micros: state.price },
    settle: (request, response) => {
      if (request.method === 'GET') return { kind: 'known', micros: 0 };
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

function makeVault(state: { price: number; pendingRef?: boolean }, ledger?: Ledger) {
  const vault = createVault({
    vendors: {
      acme: createBearerVendor({ name: 'acme', baseUrl: url, costModel: makeModel(state), honorsIdempotencyKey: true }),
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

describe('re-pricing of a replay', () => {
  it('should never lower what the original was counted at, when the retry is estimated lower', async () => {
    const state = { price: 20_000_000 };
    const vault = makeVault(state);
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 1000 });
    answers = [{ hang: true }, { body: { id: 'obj_1', cost: 15_000_000 } }];
    expect((await charge(vault, key.vaultKey)).status).toBe(504);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 20_000_000 });
    // The price service now quotes less: the retry's estimate is $10, its answer says $15.
    state.price = 10_000_000;
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
    const status = await vault.getKeyStatus(key.id);
    // The original was counted at $20; an answer never lowers it (README), and the audit adds up.
    expect(status.spentMicros).toBeGreaterThanOrEqual(20_000_000);
    expect(await auditSum(vault, key.id)).toBe(status.spentMicros);
  }, 20_000);

  it("should raise the original from what it was counted at, not from the retry's estimate, and audit the difference", async () => {
    const state = { price: 20_000_000 };
    const vault = makeVault(state);
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 1000 });
    answers = [{ hang: true }, { body: { id: 'obj_1', cost: 25_000_000 } }];
    expect((await charge(vault, key.vaultKey)).status).toBe(504);
    state.price = 10_000_000;
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
    const status = await vault.getKeyStatus(key.id);
    expect(status.spentMicros).toBe(25_000_000);
    expect(await auditSum(vault, key.id)).toBe(status.spentMicros);
  }, 20_000);

  it('should leave the original at its estimate with a ledger that cannot re-price, and the audit should add up', async () => {
    const memory = createMemoryLedger();
    // A ledger implemented without the optional repriceUnknown.
    const plain: Ledger = {
      reserve: (request) => memory.reserve(request),
      settle: (request) => memory.settle(request),
      balance: (keyId, now) => memory.balance(keyId, now),
    };
    const vault = makeVault({ price: 1_000_000 }, plain);
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 1000 });
    answers = [{ hang: true }, { body: { id: 'obj_1', cost: 5_000_000 } }, { body: { id: 'obj_1', cost: 5_000_000 } }];
    expect((await charge(vault, key.vaultKey)).status).toBe(504);
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
    const status = await vault.getKeyStatus(key.id);
    expect(status.spentMicros).toBe(1_000_000);
    expect(await auditSum(vault, key.id)).toBe(status.spentMicros);
  }, 20_000);

  it('should count nothing for a replay of a call settled at a known price that awaits a late one', async () => {
    const vault = makeVault({ price: 10_000_000, pendingRef: true });
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 1000 });
    answers = [{ body: { id: 'obj_1', cost: 15_000_000 } }, { body: { id: 'obj_1', cost: 15_000_000 } }];
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 15_000_000 });
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
    const status = await vault.getKeyStatus(key.id);
    expect(status.spentMicros).toBe(15_000_000);
    expect(await auditSum(vault, key.id)).toBe(status.spentMicros);
  }, 20_000);

  it('should apply a late price (the control of the next test)', async () => {
    const vault = makeVault({ price: 10_000_000, pendingRef: true });
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 1000 });
    answers = [{ body: { id: 'obj_1', cost: 15_000_000 } }];
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 15_000_000 });
    const read = await vault.handle({ vaultKey: key.vaultKey, method: 'GET', path: '/v1/objects/obj_1', headers: {} });
    expect(read.status).toBe(200);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 30_000_000 });
  }, 20_000);

  it('should still apply the late price of a call that a replay answered meanwhile', async () => {
    const vault = makeVault({ price: 10_000_000, pendingRef: true });
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 1000 });
    answers = [{ body: { id: 'obj_1', cost: 15_000_000 } }, { body: { id: 'obj_1', cost: 15_000_000 } }];
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 15_000_000 });
    // A retry the vendor replays: the original's outcome was known.
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 15_000_000 });
    // The vendor's real price arrives late ($30): it replaces the original's settlement.
    const read = await vault.handle({ vaultKey: key.vaultKey, method: 'GET', path: '/v1/objects/obj_1', headers: {} });
    expect(read.status).toBe(200);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 30_000_000 });
  }, 20_000);
});
