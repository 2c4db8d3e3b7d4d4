import { describe, expect, it } from 'vitest';
import { createMemoryLedger } from '../ledger/create-memory-ledger.js';
import { createMemoryKeyStore } from '../storage/create-memory-key-store.js';
import { createAcmeVault } from '../test-utils/create-acme-vault.js';
import { startRecordingUpstream, useRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import type { Vault } from './create-vault.js';

describe('the vault along a key chain, on replays and when issuing children', () => {
  const { upstream, vaults } = useRecordingUpstream(() => ({ body: { id: 'ch_1' } }));
  const makeVault = (
    options: {
      upstreamTimeout?: string;
      baseUrl?: string;
      keyStore?: ReturnType<typeof createMemoryKeyStore>;
      ledger?: ReturnType<typeof createMemoryLedger>;
    } = {},
  ) => {
    const vault = createAcmeVault({
      ...(options.keyStore ? { keyStore: options.keyStore } : {}),
      ...(options.ledger ? { ledger: options.ledger } : {}),
      baseUrl: 'https://api.acme.invalid',
      prices: { 'POST /v1/charges': '3.00', 'DELETE /**': '1.00', 'GET /**': 0 },
      honorsIdempotencyKey: true,
      upstreams: { acme: options.baseUrl ?? upstream.url },
      ...(options.upstreamTimeout ? { upstreamTimeout: options.upstreamTimeout } : {}),
    });
    vaults.push(vault);
    return vault;
  };
  const charge = (vault: Vault, vaultKey: string, headers: Record<string, string> = {}) =>
    vault.handle({ vaultKey, method: 'POST', path: '/v1/charges', headers, body: 'amount=1' });

  // handle-vault-request.ts resolveEstimate: the largest fallback of the chain, wherever it sits.
  it('should reserve the largest fallback of the chain even when the child sets it', async () => {
    const vault = makeVault();
    const parent = await vault.issueKey({ vendor: 'acme', capUsd: 100, fallbackEstimateUsd: 1 });
    const child = await vault.issueKey({ parentId: parent.id, capUsd: 50, fallbackEstimateUsd: 5 });
    const response = await vault.handle({ vaultKey: child.vaultKey, method: 'POST', path: '/v1/payouts', headers: {} });
    expect(response.status).toBe(200);
    expect(response.keybrake.estimatedMicros).toBe(5_000_000);
    expect(await vault.getKeyStatus(parent.id)).toMatchObject({ spentUsd: 5 });
  });

  // handle-vault-request.ts per-call loop: every key of the chain, not only the calling one.
  it("should enforce an ancestor's per-call maximum on a child that sets none", async () => {
    const vault = makeVault();
    const parent = await vault.issueKey({ vendor: 'acme', capUsd: 100, perCallMaxUsd: 2 });
    const child = await vault.issueKey({ parentId: parent.id, capUsd: 50 });
    const response = await charge(vault, child.vaultKey);
    expect(response.status).toBe(429);
    expect(response.keybrake.error).toMatchObject({ code: 'KEYBRAKE_CAP_EXCEEDED', cap: 'per_call' });
    expect(upstream.received).toHaveLength(0);
  });

  // handle-vault-request.ts per-call comparison: a call of exactly the per-call maximum is allowed.
  it('should allow a call whose estimate equals the per-call maximum', async () => {
    const vault = makeVault();
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100, perCallMaxUsd: 3 });
    expect((await charge(vault, key.vaultKey)).status).toBe(200);
  });

  // handle-vault-request.ts `method === 'POST'`: a vendor replays only POSTs, so a GET (or DELETE)
  // with an Idempotency-Key runs again at the vendor and must be counted again.
  it('should count every non-POST call under the same Idempotency-Key', async () => {
    const vault = makeVault();
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    const remove = () =>
      vault.handle({
        vaultKey: key.vaultKey,
        method: 'DELETE',
        path: '/v1/items/1',
        headers: { 'idempotency-key': 'k1' },
      });
    expect((await remove()).status).toBe(200);
    expect((await remove()).status).toBe(200);
    expect(upstream.received).toHaveLength(2);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentUsd: 2, calls: 2 });
  });

  // handle-vault-request.ts `if (!replayed)` before settle(): a replay's record/response report 0,
  // so audit totals and proxy metrics do not count a charge twice.
  it('should report a replayed call at 0 so audit totals count the charge once', async () => {
    const vault = makeVault();
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    await charge(vault, key.vaultKey, { 'idempotency-key': 'c1' });
    const replay = await charge(vault, key.vaultKey, { 'idempotency-key': 'c1' });
    expect(replay.keybrake.actualMicros).toBe(0);
    const { records } = await vault.queryAudit({ keyId: key.id });
    expect(records.reduce((sum, record) => sum + record.actualMicros, 0)).toBe(3_000_000);
  });

  // handle-vault-request.ts `outcomeUnknown && !replayed`: a replay that times out reserved nothing.
  it('should report a replay whose answer timed out at 0, not at the estimate', async () => {
    let calls = 0;
    const slowSecond = await startRecordingUpstream(() => ({ delayMs: calls++ === 0 ? 0 : 1_000, body: { id: 'ch' } }));
    try {
      const vault = makeVault({ baseUrl: slowSecond.url, upstreamTimeout: '300ms' });
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
      expect((await charge(vault, key.vaultKey, { 'idempotency-key': 'c2' })).status).toBe(200);
      const replay = await charge(vault, key.vaultKey, { 'idempotency-key': 'c2' });
      expect(replay.status).toBe(504);
      expect(replay.keybrake.actualMicros).toBe(0);
      expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentUsd: 3, calls: 1 });
    } finally {
      await slowSecond.close();
    }
  });
  // load-key-chain.ts assertChainUsable: every ancestor's revocation is checked (revokeKey relies on
  // it for a descendant issued concurrently, or a cascade cut short after its first write).
  it('should deny a child whose parent alone is marked revoked', async () => {
    const keyStore = createMemoryKeyStore();
    const vault = makeVault({ keyStore });
    const parent = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    const child = await vault.issueKey({ parentId: parent.id, capUsd: 50 });
    await keyStore.revoke([parent.id], Date.now());
    const response = await charge(vault, child.vaultKey);
    expect(response.keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
    expect(upstream.received).toHaveLength(0);
  });

  // issue-key.ts: no child under a revoked parent.
  it('should refuse to issue a child under a revoked parent', async () => {
    const vault = makeVault();
    const parent = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    await vault.revokeKey(parent.id);
    await expect(vault.issueKey({ parentId: parent.id, capUsd: 10 })).rejects.toMatchObject({
      code: 'KEYBRAKE_KEY_REVOKED',
    });
  });

  // issue-key.ts assertNarrows: each limit at most the parent's (what remains of it), boundaries included.
  it("should make a child's daily cap, per-call maximum, calls and cap narrow the parent's, equality allowed", async () => {
    const ledger = createMemoryLedger();
    const vault = makeVault({ ledger });
    const parent = await vault.issueKey({
      vendor: 'acme',
      capUsd: 100,
      dailyCapUsd: 20,
      perCallMaxUsd: 5,
      maxCalls: 3,
    });
    const issue = (options: Record<string, number>) => vault.issueKey({ parentId: parent.id, ...options });
    await expect(issue({ dailyCapUsd: 21 })).rejects.toThrow(/daily cap/);
    await expect(issue({ perCallMaxUsd: 6 })).rejects.toThrow(/per-call/);
    await expect(issue({ capUsd: 100, dailyCapUsd: 20, perCallMaxUsd: 5, maxCalls: 3 })).resolves.toBeDefined();
    // A call in flight on the parent: 30 reserved, one call made.
    await ledger.reserve({
      reservationId: 'in-flight',
      chain: [{ keyId: parent.id }],
      micros: 30_000_000,
      now: Date.now(),
      ttlMs: 3_600_000,
    });
    await expect(issue({ capUsd: 71 })).rejects.toThrow(/remains/);
    await expect(issue({ capUsd: 70 })).resolves.toBeDefined();
    await expect(issue({ maxCalls: 3 })).rejects.toThrow(/maxCalls/);
    await expect(issue({ maxCalls: 2 })).resolves.toBeDefined();
  });
});
