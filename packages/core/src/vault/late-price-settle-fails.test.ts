// A late price is applied by reading the call's pending entry from the key store, settling it in
// the ledger, then taking the entry. If that settlement fails (a storage blip), the entry must stay
// (or, with a store that cannot read without taking, be put back), so that a later read of the same
// object still applies the real price; lost, a price above the estimate would never be counted.
import { describe, expect, it } from 'vitest';
import {
  type CostModel,
  createBearerVendor,
  createMemoryKeyStore,
  createMemoryLedger,
  createVault,
  type KeyStore,
  type Ledger,
} from '../index.js';
import { useRecordingUpstream } from '../test-utils/start-recording-upstream.js';

describe('a late price whose ledger settlement fails once', () => {
  const { upstream, vaults } = useRecordingUpstream((request) =>
    request.method === 'GET' ? { body: { id: 'msg_1', price: 30_000_000 } } : { body: { id: 'msg_1', price: null } },
  );

  it.each([
    ['a store that reads without taking', createMemoryKeyStore],
    [
      'a store that can only take (no getPending)',
      (): KeyStore => {
        const { getPending: _, ...store } = createMemoryKeyStore();
        return store;
      },
    ],
  ])('should still be applied by a later read of the same object, with %s', async (_name, createKeyStore) => {
    const model: CostModel = {
      estimate: async (request) => ({ kind: 'known', micros: request.method === 'GET' ? 0 : 10_000_000 }),
      // The vendor prices the call later: settled at the estimate, awaiting the real price.
      settle: (request, _response, estimate) =>
        request.method === 'GET'
          ? { kind: 'known', micros: 0 }
          : { kind: 'known', micros: (estimate as { micros: number }).micros, pendingRef: 'msg_1' },
      reconcile: (request, response) => {
        const json = response.json as { id?: string; price?: number | null } | undefined;
        return request.method === 'GET' && typeof json?.price === 'number'
          ? { ref: json.id as string, micros: json.price }
          : undefined;
      },
    };
    const memory = createMemoryLedger();
    let failNextLateSettle = true;
    const flaky: Ledger = {
      ...memory,
      async settle(request) {
        if (failNextLateSettle && request.micros === 30_000_000) {
          failNextLateSettle = false;
          throw new Error('Redis connection reset');
        }
        return memory.settle(request);
      },
    };
    const vault = createVault({
      vendors: { acme: createBearerVendor({ name: 'acme', baseUrl: upstream.url, costModel: model }) },
      secrets: { acme: 'acme_secret_0123456789' },
      ledger: flaky,
      keyStore: createKeyStore(),
    });
    vaults.push(vault);
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    const call = (method: string, path: string) => vault.handle({ vaultKey: key.vaultKey, method, path, headers: {} });

    expect((await call('POST', '/v1/messages')).status).toBe(200);
    expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(10_000_000);
    // The first read reports the real price ($30), but the ledger fails to take it this once.
    expect((await call('GET', '/v1/messages/msg_1')).status).toBe(200);
    // A second read reports it again: it should now be applied.
    expect((await call('GET', '/v1/messages/msg_1')).status).toBe(200);
    expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(30_000_000);
  });
});
