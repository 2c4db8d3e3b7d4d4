// Retries under one Idempotency-Key, through the capped fetch with stripe-node and the fake Stripe:
// a retry is free only when its original's money is counted and it is the same request.
import { createFakeStripe } from '@keybrake/testkit';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadStripeFixtures } from '../costs/stripe/__fixtures__/stripe-openapi-fixtures.js';
import { createMemoryLedger } from '../ledger/create-memory-ledger.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { resendVendor } from '../vendors/resend-vendor.js';
import { stripeVendor } from '../vendors/stripe-vendor.js';
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

describe('one Idempotency-Key on two Stripe accounts of one vault', () => {
  it('should count the call on the second account: Stripe keeps idempotency keys per account', async () => {
    const SECRET_EU = 'sk_test_51AccountEuropeOnlyNeverLeaves0123';
    const [us, eu] = [await createFakeStripe({ secret: SECRET }), await createFakeStripe({ secret: SECRET_EU })];
    const vault = createVault({
      vendors: { 'stripe-eu': stripeVendor() },
      secrets: { stripe: SECRET, 'stripe-eu': SECRET_EU },
      upstreams: { stripe: us.url, 'stripe-eu': eu.url },
    });
    try {
      const session = await vault.issueKey({ capUsd: 30 });
      const charge = async (vendor: string) => {
        const key = await vault.issueKey({ parentId: session.id, vendor });
        return vault.createFetch({ vaultKey: key.vaultKey })('https://api.stripe.com/v1/payment_intents', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'order-42' },
          body: `amount=2000&${CONFIRMED}`,
        });
      };
      expect([(await charge('stripe')).status, (await charge('stripe-eu')).status]).toEqual([200, 429]);
      expect([...us.moneyMoved(), ...eu.moneyMoved()].map((movement) => movement.amount)).toEqual([2000]);
      expect((await vault.getKeyStatus(session.id)).spentMicros).toBe(20_000_000);
    } finally {
      await vault.close();
      await Promise.all([us.close(), eu.close()]);
    }
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
      const webhook = { endpoint: 'https://acme.test/hooks/resend', events: ['email.delivered'] };
      expect([(await post('/webhooks', webhook)).status, (await post('/webhooks', webhook)).status]).toEqual([
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

describe('a retry of a call whose outcome was unknown', () => {
  // An Issuing approval has no estimate: the key's fallback ($1) lets it through, and Stripe's
  // answer (its `amount`) is what it cost. Stripe's own example object, approved for $500.
  const APPROVED = {
    ...loadStripeFixtures()['issuing.authorization'],
    id: 'iauth_1',
    approved: true,
    amount: 50_000,
    currency: 'usd',
    status: 'closed',
  };
  type Answer = { hang?: boolean; body?: Record<string, unknown>; headers?: Record<string, string> };
  let answers: Answer[];
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let vault: Vault;
  beforeAll(async () => {
    upstream = await startRecordingUpstream(() => {
      const next = answers.shift() ?? {};
      return { delayMs: next.hang ? 2500 : 0, body: next.body ?? APPROVED, headers: next.headers ?? {} };
    });
  });
  beforeEach(() => {
    upstream.received.length = 0;
    vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: upstream.url }, upstreamTimeout: 1 });
    return () => vault.close();
  });
  afterAll(() => upstream.close());

  const approve = (vaultKey: string) =>
    vault.handle({
      vaultKey,
      method: 'POST',
      path: '/v1/issuing/authorizations/iauth_1/approve',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'approve-iauth_1' },
    });
  const timedOutFirst = async () => {
    const key = await vault.issueKey({ vendor: 'stripe', capUsd: 1000, fallbackEstimateUsd: 1 });
    expect((await approve(key.vaultKey)).status).toBe(504);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 1_000_000, reservedMicros: 0 });
    return key;
  };

  it.each([
    ['replays it', { 'idempotent-replayed': 'true' }],
    ['runs it afresh', {}],
  ])('should count what the answer says it cost when Stripe %s, once', async (_, headers) => {
    answers = [{ hang: true }, { headers }, { headers }];
    const key = await timedOutFirst();
    expect((await approve(key.vaultKey)).status).toBe(200);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 500_000_000, reservedMicros: 0, calls: 1 });
    // A second retry replays it too: counted once.
    expect((await approve(key.vaultKey)).status).toBe(200);
    expect(upstream.received).toHaveLength(3);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 500_000_000, calls: 1 });
    // The audit trail adds up to what the ledger holds.
    const { records } = await vault.queryAudit({ keyId: key.id });
    expect(records.map((record) => [record.outcome, record.actualMicros])).toEqual([
      ['replayed', 0],
      ['replayed', 499_000_000],
      ['unknown', 1_000_000],
    ]);
    expect(records[1]?.note).toMatch(
      /whose outcome was unknown and counted at its estimate: this answer prices it at \$500\.00/,
    );
  });

  it.each([
    ['replays it', { 'idempotent-replayed': 'true' }],
    ['runs it afresh', {}],
  ])(
    'should count it once when its retry comes on another key under the same root (a refresh) and Stripe %s',
    async (_, headers) => {
      answers = [{ hang: true }, { headers }];
      const session = await vault.issueKey({ capUsd: 1000 });
      const member = () => vault.issueKey({ parentId: session.id, vendor: 'stripe', fallbackEstimateUsd: 1 });
      const [before, after] = [await member(), await member()];
      expect((await approve(before.vaultKey)).status).toBe(504);
      await vault.revokeKey(before.id);
      expect((await approve(after.vaultKey)).status).toBe(200);
      expect(upstream.received).toHaveLength(2);
      expect(await vault.getKeyStatus(session.id)).toMatchObject({
        spentMicros: 500_000_000,
        reservedMicros: 0,
        calls: 1,
      });
    },
  );

  it('should not share an Idempotency-Key between two roots', async () => {
    answers = [{}, {}];
    const [one, two] = [
      await vault.issueKey({ vendor: 'stripe', capUsd: 1000, fallbackEstimateUsd: 1 }),
      await vault.issueKey({ vendor: 'stripe', capUsd: 1000, fallbackEstimateUsd: 1 }),
    ];
    for (const key of [one, two]) {
      expect((await approve(key.vaultKey)).status).toBe(200);
      expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 500_000_000, calls: 1 });
    }
  });

  it('should count what a replay says when its original expired unsettled (its settlement failed)', async () => {
    let clock = Date.parse('2026-11-29T12:00:00Z');
    const ledger = createMemoryLedger();
    let failSettle = true;
    await vault.close();
    vault = createVault({
      secrets: { stripe: SECRET },
      upstreams: { stripe: upstream.url },
      now: () => clock,
      ledger: {
        ...ledger,
        settle: (request) => (failSettle ? Promise.reject(new Error('ledger unreachable')) : ledger.settle(request)),
      },
    });
    answers = [{}, { headers: { 'idempotent-replayed': 'true' } }];
    const key = await vault.issueKey({ vendor: 'stripe', capUsd: 1000, fallbackEstimateUsd: 1, expiresIn: '1d' });
    // Stripe approved $500; the settlement failed, so the $1 estimate stays reserved, then spent.
    expect((await approve(key.vaultKey)).status).toBe(200);
    failSettle = false;
    clock += 11 * 60_000;
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 1_000_000, reservedMicros: 0 });
    expect((await approve(key.vaultKey)).status).toBe(200);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 500_000_000, calls: 1 });
  });

  it('should never lower what the original was counted at', async () => {
    // The retry's answer says the authorization was declined: it may not be the original's fate.
    answers = [{ hang: true }, { body: { ...APPROVED, approved: false, amount: 0, status: 'reversed' } }];
    const key = await timedOutFirst();
    expect((await approve(key.vaultKey)).status).toBe(200);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 1_000_000, calls: 1 });
  });
});
