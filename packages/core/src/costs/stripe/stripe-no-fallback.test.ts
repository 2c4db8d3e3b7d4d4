// Calls a fallback estimate must never let through: a write to an endpoint this model knows whose
// parameters Stripe could read otherwise (a raw ";", a name sent twice, an old Stripe-Version: a
// guarded update behind one of these was only "unknown" before), and API v2 writes (an off-session
// payment charges any amount, and its answer does not say what moved). And an invoice marked paid
// out of band, which moves nothing through Stripe, is settled at 0.
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { startRecordingUpstream } from '../../test-utils/start-recording-upstream.js';
import { createVault } from '../../vault/create-vault.js';
import { estimateThenSettle } from '../__fixtures__/cost-request.js';
import { loadStripeFixtures } from './__fixtures__/stripe-openapi-fixtures.js';
import { createStripeCostModel } from './stripe-cost-model.js';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';
const fixtures = loadStripeFixtures();

/** Guarded updates, each with a body that the model refuses with fallback:false on its own. */
const guarded: Array<[string, string]> = [
  ['/v1/prices/price_1', 'currency_options[jpy][unit_amount]=10000000'],
  ['/v1/payment_intents/pi_1', 'amount=99999999'],
  ['/v1/payment_links/plink_1', 'line_items[0][id]=li_1&line_items[0][quantity]=99'],
  ['/v1/shipping_rates/shr_1', 'fixed_amount[amount]=99999999'],
  ['/v1/checkout/sessions/cs_1', 'line_items[0][id]=li_1&line_items[0][quantity]=99'],
  // A list without indexes (which this model would not count): refused even with a fallback.
  [
    '/v1/payment_links',
    'line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=100&line_items[0][price_data][product]=prod_1&optional_items[][price]=price_big&optional_items[][quantity]=1',
  ],
];

/** Harmless additions that make the form "readable two ways". */
const tricks: Array<[string, (body: string) => string, Record<string, string>]> = [
  ['a raw ";" in a metadata value', (body) => `${body}&metadata[note]=a;metadata[x]=b`, {}],
  ['a repeated metadata parameter', (body) => `${body}&metadata[n]=1&metadata[n]=1`, {}],
  ['an old Stripe-Version', (body) => body, { 'stripe-version': '2020-08-27' }],
];

describe('Stripe guarded updates with parameters Stripe could read otherwise', () => {
  it('model: a guarded update stays fallback:false whatever else the form holds', async () => {
    const model = createStripeCostModel();
    const letThrough: string[] = [];
    for (const [path, body] of guarded) {
      const plain = await estimateThenSettle(model, { path, body }, { json: {} });
      expect(plain.estimate, `${path} plain`).toMatchObject({ kind: 'unknown', fallback: false });
      for (const [name, trick, headers] of tricks) {
        const { estimate } = await estimateThenSettle(model, { path, body: trick(body), headers }, { json: {} });
        if (!(estimate.kind === 'unknown' && estimate.fallback === false)) letThrough.push(`${path} with ${name}`);
      }
    }
    expect(letThrough).toEqual([]);
  });

  it('vault: a $1-fallback key must not send a Price currency_options update with a ";" in its metadata', async () => {
    const upstream = await startRecordingUpstream(() => ({ body: { id: 'price_1', object: 'price' } }));
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: upstream.url } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 50, fallbackEstimateUsd: 1 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const post = (body: string) =>
        send('https://api.stripe.com/v1/prices/price_1', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
      // As documented: denied even with a fallback.
      expect((await post('currency_options[jpy][unit_amount]=10000000')).status).toBe(403);
      // The same update with a harmless metadata value holding ";" (which Stripe takes as data).
      const bypass = await post('currency_options[jpy][unit_amount]=10000000&metadata[note]=a;metadata[x]=b');
      expect(bypass.status).toBe(403);
      expect(upstream.received).toHaveLength(0);
    } finally {
      await vault.close();
      await upstream.close();
    }
  });
});

/** Stripe's documented answer to a create (asynchronous: `pending`, amount_requested only). */
const offSessionPayment = {
  amount_requested: { value: 1_000_000, currency: 'usd' },
  cadence: 'unscheduled',
  created: '2026-01-01T00:00:00.000Z',
  customer: 'cus_1',
  id: 'osp_test_6pO5OrRN03IzV8rd3BaY',
  livemode: false,
  metadata: {},
  object: 'v2.payments.off_session_payment',
  payment_method: 'pm_1',
  retry_details: { attempts: 0, retry_strategy: 'best_available' },
  status: 'pending',
};

describe('Stripe API v2 writes', () => {
  it('model: an Off-Session Payment is never let through on a fallback, as v2 money management is not', async () => {
    const { estimate } = await estimateThenSettle(
      createStripeCostModel(),
      {
        path: '/v2/payments/off_session_payments',
        json: {
          amount: { value: 1_000_000, currency: 'usd' },
          cadence: 'unscheduled',
          customer: 'cus_1',
          payment_method: 'pm_1',
        },
        headers: { 'content-type': 'application/json', 'stripe-version': '2026-04-22.preview' },
      },
      { json: offSessionPayment },
    );
    expect(estimate).toMatchObject({ kind: 'unknown', fallback: false });
  });

  it('vault: a $20-cap key with a $1 fallback must not charge $10,000 off session', async () => {
    const upstream = await startRecordingUpstream(() => ({ body: offSessionPayment }));
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: upstream.url } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 20, fallbackEstimateUsd: 1 });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })(
        'https://api.stripe.com/v2/payments/off_session_payments',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-version': '2026-04-22.preview' },
          body: JSON.stringify({
            amount: { value: 1_000_000, currency: 'usd' },
            cadence: 'unscheduled',
            customer: 'cus_1',
            payment_method: 'pm_1',
          }),
        },
      );
      const status = await vault.getKeyStatus(key.id);
      expect({ status: response.status, sent: upstream.received.length, spentUsd: status.spentUsd }).toEqual({
        status: 403,
        sent: 0,
        spentUsd: 0,
      });
    } finally {
      await vault.close();
      await upstream.close();
    }
  });
});

describe('Stripe invoice paid out of band', () => {
  // The current API's invoice, as Stripe's own example has it: since 2025-03-31.basil it has no
  // `paid_out_of_band` field (nor `paid`), so the answer cannot say the payment was out of band.
  const base = fixtures.invoice as Record<string, unknown>;
  const answer = {
    ...base,
    status: 'paid',
    currency: 'usd',
    amount_due: 8_000,
    amount_paid: 8_000,
    amount_remaining: 0,
  };
  const pay = { path: `/v1/invoices/${String(base.id)}/pay`, form: { paid_out_of_band: 'true' } };

  it('should settle an out-of-band invoice payment at 0, as it is estimated, though the answer does not say so', async () => {
    expect('paid_out_of_band' in base).toBe(false);
    const { estimate, settlement } = await estimateThenSettle(createStripeCostModel(), pay, { json: answer });
    expect(estimate).toMatchObject({ kind: 'known', micros: 0 });
    expect(settlement).toMatchObject({ kind: 'known', micros: 0 });
  });

  it('should settle it at 0 when an older API version answers paid_out_of_band: true', async () => {
    const { settlement } = await estimateThenSettle(createStripeCostModel(), pay, {
      json: { ...answer, paid_out_of_band: true },
    });
    expect(settlement).toMatchObject({ kind: 'known', micros: 0 });
  });

  it('should count the amount_paid when an older API version answers paid_out_of_band: false', async () => {
    const { settlement } = await estimateThenSettle(createStripeCostModel(), pay, {
      json: { ...answer, paid_out_of_band: false },
    });
    expect(settlement).toMatchObject({ kind: 'known', micros: 80_000_000 });
  });

  it('vault + stripe-node: marking an $80 invoice paid out of band spends nothing of the cap', async () => {
    const upstream = await startRecordingUpstream(() => ({ body: answer }));
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: upstream.url } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 100 });
      const stripe = new Stripe(key.vaultKey, {
        httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
        maxNetworkRetries: 0,
      });
      await stripe.invoices.pay(String(base.id), { paid_out_of_band: true });
      expect(upstream.received).toHaveLength(1);
      expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(0);
    } finally {
      await vault.close();
      await upstream.close();
    }
  });
});

// An endpoint this model does not price is let through at a fallback estimate, but not pinned to an
// API version older than the model reads: an old version may answer otherwise (a Connect account
// created under one returned its secret keys).
describe('Stripe unpriced writes pinned to an old API version', () => {
  it('vault: a $1-fallback key sends an unpriced write under a current version, not under an old one', async () => {
    const account = fixtures.account as { id: string };
    const upstream = await startRecordingUpstream(() => ({ body: account }));
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: upstream.url } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 20, fallbackEstimateUsd: 1 });
      const create = (apiVersion?: string) =>
        new Stripe(key.vaultKey, {
          httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
          maxNetworkRetries: 0,
          ...(apiVersion ? { apiVersion: apiVersion as Stripe.LatestApiVersion } : {}),
        }).accounts.create({ type: 'custom', country: 'US' });
      expect((await create()).id).toBe(account.id);
      const denied = await create('2017-04-06').catch((error: unknown) => error);
      expect(denied).toMatchObject({ code: 'KEYBRAKE_UNKNOWN_COST' });
      expect((denied as Error).message).toContain('Stripe API version "2017-04-06" is not one Keybrake prices');
      expect(upstream.received).toHaveLength(1);
      expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(1);
    } finally {
      await vault.close();
      await upstream.close();
    }
  });
});
