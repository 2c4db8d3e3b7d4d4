// A custom vendor whose `authorize` throws (a signing step that fails, a secret it cannot use): the
// call is refused after its reservation was made, and never sent. Nothing should stay counted —
// neither money nor a call against maxCalls — and the key's status should agree with the audit.
import { describe, expect, it } from 'vitest';
import { createFixedPriceCostModel, createVault, type VendorDefinition } from '../index.js';
import { useRecordingUpstream } from '../test-utils/start-recording-upstream.js';

describe('a vendor authorize() that throws after the reservation', () => {
  const { upstream, vaults } = useRecordingUpstream(() => ({ body: { id: 'ch_1' } }));

  it('should release the reservation of a call that was never sent', async () => {
    let failSigning = true;
    const acme: VendorDefinition<string> = {
      name: 'acme',
      baseUrl: upstream.url,
      costModel: createFixedPriceCostModel({ prices: { 'POST /v1/charges': '2.00' } }),
      parseSecret: (secret) => secret as string,
      authorize(request, secret) {
        if (failSigning) throw new Error('HMAC signer unavailable');
        request.headers.authorization = `Bearer ${secret}`;
        return { path: request.path };
      },
      errorResponse: (error) => ({ status: error.status, headers: {}, body: JSON.stringify(error.toJSON()) }),
    };
    let clock = Date.UTC(2030, 0, 1);
    const vault = createVault({ vendors: { acme }, secrets: { acme: 'acme_secret_0123456789' }, now: () => clock });
    vaults.push(vault);
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 5, maxCalls: 1, expiresIn: '1d' });
    const charge = () => vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });

    const denied = await charge();
    expect(denied.status).toBe(503);
    expect(upstream.received).toHaveLength(0);
    const { records } = await vault.queryAudit({ keyId: key.id });
    expect(records).toMatchObject([{ decision: 'denied', actualMicros: 0 }]);

    // The key's status should say what the audit says: nothing spent, nothing held.
    const status = await vault.getKeyStatus(key.id);
    expect({ spent: status.spentMicros, reserved: status.reservedMicros, calls: status.calls }).toEqual({
      spent: 0,
      reserved: 0,
      calls: 0,
    });

    // Once the signer works again, the key's one call should be available (it was never made)...
    failSigning = false;
    clock += 11 * 60_000; // ...even after the leaked reservation's TTL (it then expires into spend).
    const retried = await charge();
    expect(retried.keybrake.error?.code).toBeUndefined();
    expect(retried.status).toBe(200);
  });
});
