// Retries under one Idempotency-Key, through the capped fetch with stripe-node and the fake Stripe:
// a retry is free only when its original's money is counted and it is the same request.
import { createFakeStripe } from '@keybrake/testkit';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { resendVendor } from '../vendors/resend-vendor.js';
import { createVault, type Vault } from './create-vault.js';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';
const CONFIRMED = 'currency=usd&confirm=true&payment_method=pm_card_visa';

describe('retries under one Idempotency-Key', () => {
  let fake: Awaited<ReturnType<typeof createFakeStripe>>;
  let vault: Vault;
  beforeAll(async () => {
    fake = await createFakeStripe({ secret: SECRET });
  });
  beforeEach(() => {
    fake.reset();
    vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: fake.url } });
    return () => vault.close();
  });
  afterAll(() => fake.close());

  const issue = (capUsd: number) =>
    vault.issueKey({ vendor: 'stripe', capUsd, allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers'] });
  const charge = (vaultKey: string, body: string, idempotencyKey: string) =>
    vault.createFetch({ vaultKey })('https://api.stripe.com/v1/payment_intents', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': idempotencyKey },
      body,
    });
  const movedCents = () => fake.moneyMoved().reduce((sum, movement) => sum + movement.amount, 0);

  it('should count a retry whose original was refused by Stripe before it ran (validation error)', async () => {
    const key = await issue(10);
    expect((await charge(key.vaultKey, `amount=500&${CONFIRMED}&capture_method=nope`, 'K1')).status).toBe(400);
    // The same key with another request: a new call, checked against the $10 cap.
    const big = await charge(key.vaultKey, `amount=100000&${CONFIRMED}`, 'K1');
    expect(big.status).toBe(429);
    expect(movedCents()).toBe(0);
  });

  it('should count a retry of a call Stripe answered 429 without running it', async () => {
    const key = await issue(50);
    fake.failNext(429);
    expect((await charge(key.vaultKey, `amount=2000&${CONFIRMED}`, 'K2')).status).toBe(429);
    expect((await charge(key.vaultKey, `amount=2000&${CONFIRMED}`, 'K2')).status).toBe(200);
    expect(movedCents()).toBe(2000);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 20_000_000, calls: 2 });
  });

  it("should count a PaymentIntent stripe-node retried after Stripe's 409 lock conflict", async () => {
    const key = await issue(50);
    const stripe = new Stripe(key.vaultKey, {
      httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
      maxNetworkRetries: 2,
    });
    fake.failNext(409);
    await stripe.paymentIntents.create({
      amount: 2000,
      currency: 'usd',
      confirm: true,
      payment_method: 'pm_card_visa',
    });
    expect(movedCents()).toBe(2000);
    expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(20_000_000);
  });

  it('should not let a key first used on a free GET make a later charge free', async () => {
    const key = await issue(10);
    const read = await vault.createFetch({ vaultKey: key.vaultKey })('https://api.stripe.com/v1/customers', {
      headers: { 'idempotency-key': 'K3' },
    });
    expect(read.status).toBe(200);
    expect((await charge(key.vaultKey, `amount=100000&${CONFIRMED}`, 'K3')).status).toBe(429);
    expect(movedCents()).toBe(0);
  });

  it('should count a retry whose original never reached Stripe (connection refused)', async () => {
    const port = fake.port;
    await fake.close();
    const key = await issue(10);
    const refused = await charge(key.vaultKey, `amount=900&${CONFIRMED}`, 'K4');
    expect([refused.status, refused.headers.get('x-keybrake-code')]).toEqual([502, 'KEYBRAKE_UPSTREAM_ERROR']);
    fake = await createFakeStripe({ secret: SECRET, port });
    expect((await charge(key.vaultKey, `amount=900&${CONFIRMED}`, 'K4')).status).toBe(200);
    expect(movedCents()).toBe(900);
    expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(9_000_000);
  });

  it('should replay a retry of a charge that went through without counting it twice', async () => {
    const key = await issue(30);
    const stripe = new Stripe(key.vaultKey, { httpClient: Stripe.createFetchHttpClient(vault.createFetch()) });
    const pay = () =>
      stripe.paymentIntents.create(
        { amount: 2000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' },
        { idempotencyKey: 'K5' },
      );
    const [first, retry] = [await pay(), await pay()];
    expect(retry.id).toBe(first.id);
    expect(movedCents()).toBe(2000);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 20_000_000, calls: 1 });
  });

  it('should count a key reused on another connected account (Stripe-Account) as a new call', async () => {
    const key = await issue(150);
    const stripe = new Stripe(key.vaultKey, { httpClient: Stripe.createFetchHttpClient(vault.createFetch()) });
    const params = { amount: 10_000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' };
    const outcomes: string[] = [];
    for (const stripeAccount of ['acct_A', 'acct_B', 'acct_A', 'acct_C']) {
      const paid = await stripe.paymentIntents.create(params, { stripeAccount, idempotencyKey: 'order-42' }).then(
        () => 'paid',
        (error: { code?: string }) => error.code ?? 'error',
      );
      outcomes.push(paid);
    }
    // acct_A's retry replays; acct_B's charge is new and would pass the $150 cap; so is acct_C's.
    expect(outcomes).toEqual(['paid', 'KEYBRAKE_CAP_EXCEEDED', 'paid', 'KEYBRAKE_CAP_EXCEEDED']);
    expect(movedCents()).toBe(10_000);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 100_000_000, calls: 1 });
  });
});

describe('retries under one Idempotency-Key, for a vendor that replays only some endpoints', () => {
  it('should count each Resend call the key does not deduplicate, and replay a send', async () => {
    const upstream = await startRecordingUpstream((request) => ({ body: { id: `re_${request.url}` } }));
    const vault = createVault({
      vendors: { resend: resendVendor() },
      secrets: { resend: 're_123456789_realResendSecretKey' },
      upstreams: { resend: upstream.url },
    });
    try {
      const key = await vault.issueKey({ vendor: 'resend', capUsd: 10, fallbackEstimateUsd: 1 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const post = (path: string, body: unknown) =>
        send(`https://api.resend.com${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'same' },
          body: JSON.stringify(body),
        });
      const event = { event: 'user.signed_up', email: 'a@example.com' };
      expect([(await post('/events/send', event)).status, (await post('/events/send', event)).status]).toEqual([
        200, 200,
      ]);
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(2_000_000);
      const email = { from: 'a@acme.test', to: 'b@example.com', subject: 'Hi', text: 'x' };
      await post('/emails', email);
      await post('/emails', email);
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(2_000_000 + 900);
    } finally {
      await vault.close();
      await upstream.close();
    }
  });
});
