import { describe, expect, it } from 'vitest';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { KeyExpiredError } from '../errors/key-expired-error.js';
import { KeyRevokedError } from '../errors/key-revoked-error.js';
import { createAcmeVault } from '../test-utils/create-acme-vault.js';
import { useRecordingUpstream } from '../test-utils/start-recording-upstream.js';

describe('issueKey errors', () => {
  const { upstream, vaults } = useRecordingUpstream(() => ({ body: { id: 'ch_1' } }));
  const makeVault = (now?: () => number) => {
    const vault = createAcmeVault({
      baseUrl: 'https://api.acme.invalid',
      prices: { 'POST /v1/charges': '3.00' },
      upstreams: { acme: upstream.url },
      ...(now ? { now } : {}),
    });
    vaults.push(vault);
    return vault;
  };

  // No call was made: the error (still typed as the revocation or expiry, with its code) says which
  // parent cannot take a child, not that a call was denied and should be reported.
  it('should say that the parent is revoked, not that a call was denied, when issuing under a revoked parent', async () => {
    const vault = makeVault();
    const parent = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
    const child = await vault.issueKey({ parentId: parent.id, capUsd: 2 });
    await vault.revokeKey(parent.id);
    const error = await vault.issueKey({ parentId: parent.id, capUsd: 1 }).then(
      () => new Error('issued'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(KeyRevokedError);
    expect(error.message).not.toMatch(/denied this call|call was not sent/);
    expect(error.message).toBe(`Cannot issue a key under ${parent.id}: it was revoked. Issue it under a live key.`);
    // Its child was revoked with it.
    const under = await vault.issueKey({ parentId: child.id, capUsd: 1 }).then(
      () => new Error('issued'),
      (e: unknown) => e as Error,
    );
    expect(under.message).toBe(`Cannot issue a key under ${child.id}: it was revoked. Issue it under a live key.`);
  });

  it('should say that the parent is expired, not that a call was denied, when issuing under an expired parent', async () => {
    let clock = Date.UTC(2026, 0, 1);
    const vault = makeVault(() => clock);
    const parent = await vault.issueKey({ vendor: 'acme', capUsd: 5, expiresIn: '1m' });
    clock += 120_000;
    const error = await vault.issueKey({ parentId: parent.id, capUsd: 1 }).then(
      () => new Error('issued'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(KeyExpiredError);
    expect(error.message).not.toMatch(/denied this call|call was not sent/);
    expect(error.message).toMatch(
      new RegExp(`^Cannot issue a key under ${parent.id}: it expired at 2026-01-01T00:01:00.000Z`),
    );
  });

  // JSON.stringify(NaN) and JSON.stringify(Infinity) are "null".
  it('should name NaN and Infinity in the error of an invalid cap, not "null"', async () => {
    const vault = makeVault();
    for (const capUsd of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = await vault.issueKey({ vendor: 'acme', capUsd }).then(
        () => new Error('issued'),
        (e: unknown) => e as Error,
      );
      expect(error).toBeInstanceOf(InvalidPolicyError);
      expect(error.message).not.toContain('null');
      expect(error.message).toContain(String(capUsd));
    }
  });

  // A loop issuing keys under its own last key would otherwise make each call reserve against an
  // ever longer chain.
  it('should refuse a key that would make a chain longer than 16 keys, and still serve the deepest allowed', async () => {
    const vault = makeVault();
    const chain = [await vault.issueKey({ vendor: 'acme', capUsd: 50, allowedEndpoints: ['POST /v1/charges'] })];
    while (chain.length < 16) chain.push(await vault.issueKey({ parentId: chain.at(-1)?.id, capUsd: 50 }));
    const last = chain[15] as (typeof chain)[number];
    const error = await vault.issueKey({ parentId: last.id, capUsd: 1 }).then(
      () => new Error('issued'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(InvalidPolicyError);
    expect(error.message).toBe(
      `Cannot issue a key under ${last.id}: it already has 15 ancestor(s), and a key chain holds at most 16 keys. Issue it higher up the tree.`,
    );
    // The sixteenth key works, and its call counts against all 16 keys.
    const response = await vault.createFetch({ vaultKey: last.vaultKey })('https://api.acme.invalid/v1/charges', {
      method: 'POST',
    });
    expect(response.status, await response.clone().text()).toBe(200);
    for (const key of chain) expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(3);
  });
});
