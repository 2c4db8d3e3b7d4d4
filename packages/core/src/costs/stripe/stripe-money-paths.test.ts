// Stripe calls that can move money although they look like bookkeeping: each must be priced at no
// less than it can move, or be unknown (denied). Amounts and parameters follow Stripe's API.
import { describe, expect, it } from 'vitest';
import { startRecordingUpstream } from '../../test-utils/start-recording-upstream.js';
import { createVault, type Vault, type VaultOptions } from '../../vault/create-vault.js';
import { stripeVendor } from '../../vendors/stripe-vendor.js';
import { costContext, estimateThenSettle, type TestRequestInit } from '../__fixtures__/cost-request.js';
import type { CostContext } from '../cost-model.js';
import { createStripeCostModel, type StripeCostOptions } from './stripe-cost-model.js';

/**
 * Runs `use` with a vault fronting Stripe at a loopback upstream answering with `reply`, its cost
 * model built with `model` and its `vaultOptions`; closes both after.
 */
async function withStripeVault(
  reply: Parameters<typeof startRecordingUpstream>[0],
  use: (vault: Vault, upstream: Awaited<ReturnType<typeof startRecordingUpstream>>) => Promise<void>,
  model: StripeCostOptions = {},
  vaultOptions: Pick<VaultOptions, 'upstreamTimeout'> = {},
): Promise<void> {
  const upstream = await startRecordingUpstream(reply);
  const vault = createVault({
    vendors: { stripe: stripeVendor(model) },
    secrets: { stripe: 'sk_test_51RealSecretNeverLeavesTheVault0123' },
    upstreams: { stripe: upstream.url },
    fx: { jpy: '0.0067' },
    ...vaultOptions,
  });
  try {
    await use(vault, upstream);
  } finally {
    await vault.close();
    await upstream.close();
  }
}

const run = (
  init: TestRequestInit,
  json: unknown,
  options: { context?: CostContext; model?: StripeCostOptions } = {},
) => estimateThenSettle(createStripeCostModel(options.model), init, { json }, options.context);

describe('Stripe calls that can move money', () => {
  it('should deny customer calls that set a balance or a source, and a cancellation that invoices now', async () => {
    const customer = { id: 'cus_1', object: 'customer' };
    const risky: Array<Record<string, string>> = [
      { balance: '10000000' },
      { source: 'tok_visa' },
      { 'cash_balance[settings][reconciliation_mode]': 'automatic' },
    ];
    for (const form of risky) {
      expect((await run({ path: '/v1/customers/cus_1', form }, customer)).estimate.kind).toBe('unknown');
      expect((await run({ path: '/v1/customers', form }, customer)).estimate.kind).toBe('unknown');
    }
    expect((await run({ path: '/v1/customers/cus_1', form: { name: 'Ada' } }, customer)).estimate).toMatchObject({
      kind: 'known',
      micros: 0,
    });
    const cancel = (form: Record<string, string>) =>
      run({ method: 'DELETE', path: '/v1/subscriptions/sub_1', form }, { id: 'sub_1', object: 'subscription' });
    expect((await cancel({ invoice_now: 'true', prorate: 'true' })).estimate.kind).toBe('unknown');
    expect((await cancel({})).estimate).toMatchObject({ kind: 'known', micros: 0 });
    expect((await cancel({ invoice_now: 'false' })).estimate).toMatchObject({ kind: 'known', micros: 0 });
  });

  it('should deny a Payment Link update that adds optional items or shipping, and a price update of currency_options', async () => {
    const link = { id: 'plink_1', object: 'payment_link' };
    const optional = { 'optional_items[0][price]': 'price_big', 'optional_items[0][quantity]': '1' };
    expect((await run({ path: '/v1/payment_links/plink_1', form: optional }, link)).estimate.kind).toBe('unknown');
    const shipping = { 'shipping_options[0][shipping_rate]': 'shr_big' };
    expect((await run({ path: '/v1/payment_links/plink_1', form: shipping }, link)).estimate.kind).toBe('unknown');
    expect((await run({ path: '/v1/payment_links/plink_1', form: { active: 'false' } }, link)).estimate).toMatchObject({
      micros: 0,
    });
    const price = { id: 'price_1', object: 'price' };
    const options = { 'currency_options[jpy][unit_amount]': '10000000' };
    expect((await run({ path: '/v1/prices/price_1', form: options }, price)).estimate.kind).toBe('unknown');
  });

  it('should price a price with currency_options in the session currency, or the dearest when none is named', async () => {
    const price = {
      id: 'price_multi',
      object: 'price',
      currency: 'usd',
      unit_amount: 100,
      currency_options: { usd: { unit_amount: 100 }, jpy: { unit_amount: 10_000_000 } },
    };
    const context = () => costContext({ fx: { jpy: '0.0067' }, lookups: { '/v1/prices/price_multi': price } });
    const item = { 'line_items[0][price]': 'price_multi', 'line_items[0][quantity]': '1' };
    const inJpy = await run(
      { path: '/v1/checkout/sessions', form: { mode: 'payment', currency: 'jpy', ...item } },
      undefined,
      {
        context: context(),
      },
    );
    expect(inJpy.estimate).toMatchObject({ kind: 'known', micros: 67_000_000_000 });
    const inUsd = await run(
      { path: '/v1/checkout/sessions', form: { mode: 'payment', currency: 'usd', ...item } },
      undefined,
      {
        context: context(),
      },
    );
    expect(inUsd.estimate).toMatchObject({ kind: 'known', micros: 1_000_000 });
    const link = await run(
      { path: '/v1/payment_links', form: item },
      { id: 'plink_1', object: 'payment_link' },
      {
        context: context(),
      },
    );
    expect(link.estimate).toMatchObject({ kind: 'known', micros: 67_000_000_000 });
    // A currency the customer may pay in, with no FX rate: unknown.
    const noRate = await run({ path: '/v1/payment_links', form: item }, undefined, {
      context: costContext({ lookups: { '/v1/prices/price_multi': price } }),
    });
    expect(noRate.estimate.kind).toBe('unknown');
  });

  it('should deny updates that change what an earlier priced call charges, even on a key with a fallback estimate', async () => {
    // A fallback would let the update through at $1, and a confirmation priced a moment before
    // (at the old amount) would then charge the new one past the cap.
    await withStripeVault(
      () => ({ body: { id: 'pi_1', object: 'payment_intent' } }),
      async (vault, upstream) => {
        const key = await vault.issueKey({ vendor: 'stripe', capUsd: 50, fallbackEstimateUsd: 1 });
        const send = vault.createFetch({ vaultKey: key.vaultKey });
        const update = (body: string) =>
          send('https://api.stripe.com/v1/payment_intents/pi_1', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body,
          });
        const raised = await update('amount=100000');
        expect(raised.status).toBe(403);
        expect(((await raised.json()) as { error: { code: string; message: string } }).error).toMatchObject({
          code: 'KEYBRAKE_UNKNOWN_COST',
          message: expect.stringContaining('no fallback estimate can stand for it'),
        });
        // A Price's other currencies, and a Payment Link's items: existing sessions and links charge them.
        for (const [path, body] of [
          ['/v1/prices/price_1', 'currency_options[jpy][unit_amount]=5000000'],
          ['/v1/payment_links/plink_1', 'line_items[0][id]=li_1&line_items[0][quantity]=99'],
        ]) {
          const response = await send(`https://api.stripe.com${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body,
          });
          expect(response.status, path).toBe(403);
        }
        // Other updates still pass, free.
        expect((await update('description=Order%2042')).status).toBe(200);
        expect(upstream.received.map((request) => request.body)).toEqual(['description=Order%2042']);
        expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(0);
      },
    );
  });

  it('should read a Price with its prices by currency, so a $20 cap stops a session charged in yen', async () => {
    // As Stripe answers: `currency_options` only when the read expands it.
    const price = {
      id: 'price_multi',
      object: 'price',
      currency: 'usd',
      unit_amount: 1000,
      currency_options: { jpy: { unit_amount: 5000 } },
    };
    const reply = (request: { url: string }) => {
      const url = new URL(request.url, 'http://stripe.test');
      if (url.pathname !== '/v1/prices/price_multi') {
        return { body: { id: 'cs_1', object: 'checkout.session', currency: 'jpy', amount_total: 5000 } };
      }
      const expanded = url.searchParams.getAll('expand[]').includes('currency_options');
      return { body: expanded ? price : { ...price, currency_options: undefined } };
    };
    await withStripeVault(reply, async (vault, upstream) => {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 20 });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })(
        'https://api.stripe.com/v1/checkout/sessions',
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'mode=payment&currency=jpy&line_items[0][price]=price_multi&line_items[0][quantity]=1',
        },
      );
      // ¥5,000 × 0.0067 = $33.50 over a $20 cap: denied before the session is created.
      expect(response.status).toBe(429);
      expect(upstream.received.map((request) => request.method)).toEqual(['GET']);
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(0);
    });
  });

  it('should settle an invoice payment at what the answer says was paid when the invoice grew', async () => {
    const context = costContext({
      lookups: {
        '/v1/invoices/in_1': { id: 'in_1', object: 'invoice', status: 'draft', currency: 'usd', amount_remaining: 100 },
      },
    });
    const paid = {
      id: 'in_1',
      object: 'invoice',
      status: 'paid',
      currency: 'usd',
      amount_paid: 10_000_100,
      amount_remaining: 0,
    };
    const { estimate, settlement } = await run({ path: '/v1/invoices/in_1/pay', form: {} }, paid, { context });
    expect(estimate).toMatchObject({ kind: 'known', micros: 1_000_000 });
    expect(settlement).toMatchObject({ kind: 'known', micros: 100_001_000_000 });
  });

  describe('paying the rest of a partly paid invoice', () => {
    // $40 paid before (a PaymentIntent attached with attach_payment, counted at its confirmation):
    // the answer's `amount_paid` counts it too.
    const before = {
      id: 'in_1',
      object: 'invoice',
      status: 'open',
      currency: 'usd',
      amount_due: 10_000,
      amount_paid: 4_000,
      amount_remaining: 6_000,
    };
    const after = { ...before, status: 'paid', amount_paid: 10_000, amount_remaining: 0 };

    it('should settle at the $60 this call paid, not the $40 paid before as well', async () => {
      const context = costContext({ lookups: { '/v1/invoices/in_1': before } });
      const { estimate, settlement } = await run({ path: '/v1/invoices/in_1/pay', form: {} }, after, { context });
      expect(estimate).toMatchObject({ kind: 'known', micros: 60_000_000 });
      expect(settlement).toMatchObject({ kind: 'known', micros: 60_000_000 });
    });

    it("should settle at the answer's whole amount_paid when the earlier one cannot be read", async () => {
      const { amount_paid: _, ...unread } = before;
      const context = costContext({ lookups: { '/v1/invoices/in_1': unread } });
      const { settlement } = await run({ path: '/v1/invoices/in_1/pay', form: {} }, after, { context });
      expect(settlement).toMatchObject({ kind: 'known', micros: 100_000_000 });
    });

    it('vault: spends $60 of the cap, not $100', async () => {
      const reply = (request: { method: string }) => ({ body: request.method === 'GET' ? before : after });
      await withStripeVault(reply, async (vault, upstream) => {
        const key = await vault.issueKey({ vendor: 'stripe', capUsd: 100 });
        const response = await vault.createFetch({ vaultKey: key.vaultKey })(
          'https://api.stripe.com/v1/invoices/in_1/pay',
          { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' },
        );
        expect(response.status).toBe(200);
        expect(upstream.received.map((request) => request.method)).toEqual(['GET', 'POST']);
        expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(60);
      });
    });

    it('vault: a replay raises a payment counted at its fallback to the whole amount_paid, not 0, when the retry finds the invoice paid', async () => {
      const answers: Array<ReturnType<NonNullable<Parameters<typeof startRecordingUpstream>[0]>>> = [
        // The original: its invoice lookup fails (a Stripe 500), so it is counted at the $1 fallback;
        // its payment goes through, but the answer comes too late (outcome unknown).
        { status: 500, body: { error: { type: 'api_error' } } },
        { delayMs: 2500, body: after },
        // The retry: the invoice is read (paid by the original), and Stripe replays the original's answer.
        { body: after },
        { body: after, headers: { 'idempotent-replayed': 'true' } },
      ];
      await withStripeVault(
        () => answers.shift() ?? {},
        async (vault) => {
          const key = await vault.issueKey({ vendor: 'stripe', capUsd: 1000, fallbackEstimateUsd: 1 });
          const pay = () =>
            vault.handle({
              vaultKey: key.vaultKey,
              method: 'POST',
              path: '/v1/invoices/in_1/pay',
              headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'pay-in_1' },
            });
          expect((await pay()).status).toBe(504);
          expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(1);
          expect((await pay()).status).toBe(200);
          // The retry's lookup came after the payment, so nothing says what was paid before it: the
          // answer's whole amount_paid, the $60 this call paid and the earlier $40 (over, never under).
          expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentUsd: 100, calls: 1 });
        },
        {},
        { upstreamTimeout: 1 },
      );
    }, 20_000);
  });

  it('should credit only refunds that went through, and only the amount a legacy charge refund names', async () => {
    const model = { creditRefunds: true };
    const refund = (status: string) => ({ id: 're_1', object: 'refund', amount: 50_000, currency: 'usd', status });
    for (const status of ['requires_action', 'pending', 'failed', 'canceled']) {
      expect(
        (await run({ path: '/v1/refunds', form: { payment_intent: 'pi_1' } }, refund(status), { model })).settlement,
      ).toMatchObject({
        micros: 0,
      });
    }
    expect(
      (await run({ path: '/v1/refunds', form: { payment_intent: 'pi_1' } }, refund('succeeded'), { model })).settlement,
    ).toMatchObject({
      micros: -500_000_000,
    });
    // The legacy endpoint answers with the Charge, whose `amount` is the whole charge.
    const charge = {
      id: 'ch_1',
      object: 'charge',
      amount: 10_000,
      amount_refunded: 100,
      currency: 'usd',
      status: 'succeeded',
    };
    expect(
      (await run({ path: '/v1/charges/ch_1/refund', form: { amount: '100' } }, charge, { model })).settlement,
    ).toMatchObject({
      micros: -1_000_000,
    });
    expect((await run({ path: '/v1/charges/ch_1/refund', form: {} }, charge, { model })).settlement).toMatchObject({
      micros: 0,
    });
  });

  describe('cancelling a refund with creditRefunds', () => {
    // Stripe cancels only a refund in `requires_action`, which was never credited (only a
    // `succeeded` refund is): its cancellation takes nothing back.
    const model = { creditRefunds: true };
    const refund = { id: 're_1', object: 'refund', amount: 50_000, currency: 'usd', status: 'requires_action' };
    const cancel = (lookedUp: unknown) =>
      run(
        { path: '/v1/refunds/re_1/cancel', form: {} },
        { ...refund, status: 'canceled' },
        {
          model,
          context: costContext({ lookups: { '/v1/refunds/re_1': lookedUp } }),
        },
      );

    it('should price cancelling a requires_action refund at 0', async () => {
      const created = await run({ path: '/v1/refunds', form: { payment_intent: 'pi_1' } }, refund, { model });
      expect(created.settlement).toMatchObject({ kind: 'known', micros: 0 }); // not credited
      const { estimate, settlement } = await cancel(refund);
      expect(estimate).toMatchObject({ kind: 'known', micros: 0 });
      expect(settlement).toMatchObject({ kind: 'known', micros: 0 });
    });

    it('should still take back the credit of a succeeded refund, and be unknown when the refund cannot be read', async () => {
      expect((await cancel({ ...refund, status: 'succeeded' })).estimate).toMatchObject({
        kind: 'known',
        micros: 500_000_000,
      });
      expect((await cancel(undefined)).estimate.kind).toBe('unknown');
    });

    it('vault: a $10-cap key can cancel a $500 requires_action refund it was never credited for', async () => {
      const reply = (request: { method: string }) => ({
        body: request.method === 'GET' ? refund : { ...refund, status: 'canceled' },
      });
      await withStripeVault(
        reply,
        async (vault, upstream) => {
          const key = await vault.issueKey({ vendor: 'stripe', capUsd: 10 });
          const response = await vault.createFetch({ vaultKey: key.vaultKey })(
            'https://api.stripe.com/v1/refunds/re_1/cancel',
            { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' },
          );
          expect(response.status).toBe(200);
          expect(upstream.received.map((request) => request.method)).toEqual(['GET', 'POST']);
          expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(0);
        },
        model,
      );
    });
  });
});
