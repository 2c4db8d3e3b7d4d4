// Money-moving Stripe endpoints the model has no route for: Treasury (v1, priced now), Issuing
// approvals (counted at what Stripe reports), and API v2 money management (never on a fallback).
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { startRecordingUpstream } from '../../test-utils/start-recording-upstream.js';
import { createVault } from '../../vault/create-vault.js';
import { loadStripeFixtures } from './__fixtures__/stripe-openapi-fixtures.js';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';
const fixtures = loadStripeFixtures();

/** An OutboundPayment as stripe-node 23 types it (v2 objects are not in fixtures3.json). */
const v2OutboundPayment = {
  id: 'obp_test_61RS0CgWt3x1',
  object: 'v2.money_management.outbound_payment',
  amount: { value: 1_000_000, currency: 'usd' },
  cancelable: true,
  created: '2026-11-01T12:00:00.000Z',
  from: { debited: { value: 1_000_000, currency: 'usd' }, financial_account: 'fa_test_1' },
  livemode: false,
  statement_descriptor: 'ACME PAYOUT',
  status: 'processing',
  to: { credited: { value: 1_000_000, currency: 'usd' }, payout_method: 'bankacct_1', recipient: 'acct_1' },
};

describe('Stripe money endpoints without a price of their own', () => {
  const open: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((close) => close()));
  });

  /** A $20 key on a vault whose Stripe answers every call with `answer`. */
  const setUp = async (answer: unknown, key: { allowedEndpoints: string[]; fallbackEstimateUsd?: number }) => {
    const upstream = await startRecordingUpstream(() => ({ body: answer }));
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: upstream.url } });
    open.push(
      () => vault.close(),
      () => upstream.close(),
    );
    const issued = await vault.issueKey({ vendor: 'stripe', capUsd: 20, ...key });
    const stripe = new Stripe(issued.vaultKey, {
      httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
      maxNetworkRetries: 0,
    });
    const spent = async () => (await vault.getKeyStatus(issued.id)).spentUsd;
    return { stripe, upstream, spent };
  };

  it('should deny a v2 outbound payment even on a key with a fallback estimate', async () => {
    const { stripe, upstream, spent } = await setUp(v2OutboundPayment, {
      allowedEndpoints: ['POST /v2/money_management/outbound_payments'],
      fallbackEstimateUsd: 1,
    });
    const error = await stripe.v2.moneyManagement.outboundPayments
      .create({
        amount: { value: 1_000_000, currency: 'usd' },
        from: { financial_account: 'fa_test_1', currency: 'usd' },
        to: { recipient: 'acct_1', payout_method: 'bankacct_1', currency: 'usd' },
      })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'KEYBRAKE_UNKNOWN_COST' });
    expect(upstream.received).toHaveLength(0);
    expect(await spent()).toBe(0);
  });

  it('should price a Treasury outbound payment at its amount, over the cap before it is sent', async () => {
    const payment = fixtures['treasury.outbound_payment'] as { amount: number };
    const { stripe, upstream, spent } = await setUp(
      { ...payment, amount: 1500 },
      { allowedEndpoints: ['POST /v1/treasury/outbound_payments'] },
    );
    const send = (amount: number) =>
      stripe.treasury.outboundPayments.create({ financial_account: 'fa_1', amount, currency: 'usd' });
    await send(1500);
    expect(await spent()).toBe(15);
    await expect(send(1500)).rejects.toMatchObject({ code: 'KEYBRAKE_CAP_EXCEEDED' });
    expect(upstream.received).toHaveLength(1);
  });

  it('should count an Issuing approval let through on a fallback at the amount Stripe reports', async () => {
    const base = fixtures['issuing.authorization'] as { id: string };
    const authorization = { ...base, amount: 10_000, currency: 'usd', approved: true };
    const { stripe, spent } = await setUp(authorization, {
      allowedEndpoints: ['POST /v1/issuing/authorizations/*/approve'],
      fallbackEstimateUsd: 1,
    });
    await stripe.issuing.authorizations.approve(authorization.id);
    // $100 approved on a $1 fallback: $100 counted (the call could pass the cap; the next one cannot).
    expect(await spent()).toBe(100);
  });

  it('should keep the fallback for writes whose answer shows an amount that did not move (an invoice item, a decline)', async () => {
    const item = fixtures.invoiceitem as { id: string; amount: number };
    const invoicing = await setUp(item, {
      allowedEndpoints: ['POST /v1/invoiceitems', 'POST /v1/invoiceitems/*'],
      fallbackEstimateUsd: 0.05,
    });
    await invoicing.stripe.invoiceItems.create({ customer: 'cus_1', amount: item.amount, currency: 'usd' });
    await invoicing.stripe.invoiceItems.update(item.id, { description: 'renamed' });
    // The item is paid, and counted, with its invoice: two fallbacks here, not its amount twice.
    expect(item.amount).toBeGreaterThan(10);
    expect(await invoicing.spent()).toBe(0.1);

    const declined = {
      ...(fixtures['issuing.authorization'] as { id: string }),
      amount: 2000,
      currency: 'usd',
      approved: false,
    };
    const issuing = await setUp(declined, {
      allowedEndpoints: ['POST /v1/issuing/authorizations/*/approve'],
      fallbackEstimateUsd: 1,
    });
    await issuing.stripe.issuing.authorizations.approve(declined.id);
    expect(await issuing.spent()).toBe(0);
  });
});
