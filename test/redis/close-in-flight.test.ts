// An embedded vault closed while calls are at the vendor: they are answered, settled and audited
// before the stores under them close.
import { randomUUID } from 'node:crypto';
import { createVault } from '@keybrake/core';
import { createRedisStorage, type RedisServer, startRedisServer } from '@keybrake/redis';
import { createFakeStripe, type FakeStripe } from '@keybrake/testkit';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';

describe('an embedded vault on Redis, closed while calls are at the vendor', () => {
  let redis: RedisServer;
  let fake: FakeStripe;
  beforeAll(async () => {
    [redis, fake] = await Promise.all([startRedisServer(), createFakeStripe({ secret: SECRET, latencyMs: 300 })]);
  });
  afterAll(async () => {
    await Promise.all([fake.close(), redis.close()]);
  });

  it('should settle and audit every call that reached the vendor before close() resolves', async () => {
    const prefix = `close:${randomUUID()}:`;
    const vault = createVault({
      ...createRedisStorage({ url: redis.url, prefix, onAuditError: () => {} }),
      secrets: { stripe: SECRET },
      upstreams: { stripe: fake.url },
    });
    const key = await vault.issueKey({ vendor: 'stripe', capUsd: 100, expiresIn: '1h' });
    const stripe = new Stripe(key.vaultKey, {
      httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
      maxNetworkRetries: 0,
    });
    const calls = Array.from({ length: 10 }, () =>
      stripe.paymentIntents.create({ amount: 100, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' }),
    );
    await expect.poll(() => fake.requests.length).toBe(10);
    await vault.close(); // all ten still at the vendor
    expect((await Promise.allSettled(calls)).map((call) => call.status)).toEqual(Array(10).fill('fulfilled'));

    const reader = createRedisStorage({ url: redis.url, prefix });
    try {
      const balance = await reader.ledger.balance(key.id, Date.now());
      const audit = await reader.audit.query({ keyId: key.id, limit: 100 });
      expect(fake.moneyMoved().reduce((sum, movement) => sum + movement.amount, 0)).toBe(1000);
      expect(audit.records.filter((record) => record.decision === 'allowed')).toHaveLength(10);
      expect({ spent: balance.spentMicros, reserved: balance.reservedMicros }).toEqual({
        spent: 10_000_000,
        reserved: 0,
      });
    } finally {
      await reader.close();
    }
  });
});
