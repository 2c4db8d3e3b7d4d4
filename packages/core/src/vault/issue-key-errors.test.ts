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
});
