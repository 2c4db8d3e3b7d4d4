// A revocation that completes while a call is being checked or reserved: once `revokeKey()` has
// resolved, no call on the key (or under it) reaches the vendor, and nothing it reserved stays counted.
import { describe, expect, it } from 'vitest';
import { createMemoryLedger } from '../ledger/create-memory-ledger.js';
import type { Ledger } from '../ledger/ledger.js';
import { createAcmeVault } from '../test-utils/create-acme-vault.js';
import { useRecordingUpstream } from '../test-utils/start-recording-upstream.js';

/** A ledger whose `reserve` waits until released, as a Redis round trip does. */
function slowReserveLedger() {
  const inner = createMemoryLedger();
  let release = () => {};
  let started = () => {};
  const reserving = new Promise<void>((resolve) => (started = resolve));
  const ledger: Ledger = {
    ...inner,
    async reserve(request) {
      started();
      await new Promise<void>((resolve) => (release = resolve));
      return inner.reserve(request);
    },
  };
  return { ledger, reserving, release: () => release() };
}

describe('a revocation racing a call', () => {
  const { upstream, vaults } = useRecordingUpstream(() => ({ body: { id: 'ch_1' } }));

  const setup = () => {
    const slow = slowReserveLedger();
    const vault = createAcmeVault({
      baseUrl: upstream.url,
      prices: { 'POST /v1/charges': '2.00' },
      ledger: slow.ledger,
    });
    vaults.push(vault);
    const charge = (vaultKey: string) => vault.handle({ vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
    return { vault, charge, ...slow };
  };

  it.each([
    ['the key itself', false],
    ['its parent', true],
  ])('should not send a call whose reservation was pending when %s was revoked, and release it', async (_, parent) => {
    const { vault, charge, reserving, release } = setup();
    const session = await vault.issueKey({ capUsd: 10 });
    const member = await vault.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 5 });
    const call = charge(member.vaultKey);
    await reserving;
    await vault.revokeKey(parent ? session.id : member.id);
    release();
    const response = await call;

    expect(response.status).toBe(401);
    expect(response.keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
    expect(upstream.received).toHaveLength(0);
    expect(await vault.getKeyStatus(member.id)).toMatchObject({ spentMicros: 0, reservedMicros: 0, revoked: true });
    expect(await vault.getKeyStatus(session.id)).toMatchObject({ spentMicros: 0, reservedMicros: 0, revoked: parent });
    const { records } = await vault.queryAudit({ keyId: member.id });
    expect(records).toMatchObject([{ decision: 'denied', reason: 'KEYBRAKE_KEY_REVOKED', actualMicros: 0 }]);
  });

  it('should send a call whose reservation completed before the revocation started', async () => {
    const { vault, charge, reserving, release } = setup();
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
    const call = charge(key.vaultKey);
    await reserving;
    release();
    expect((await call).status).toBe(200);
    await vault.revokeKey(key.id);
    expect(upstream.received).toHaveLength(1);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({
      spentMicros: 2_000_000,
      reservedMicros: 0,
      revoked: true,
    });
  });

  it('should close once: a second close() waits for the first and resolves', async () => {
    const vault = createAcmeVault({ baseUrl: upstream.url, prices: { 'POST /v1/charges': '2.00' } });
    await Promise.all([vault.close(), vault.close()]);
    await expect(vault.close()).resolves.toBeUndefined();
  });
});
