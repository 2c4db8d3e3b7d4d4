// Money a call commits beyond its own payment (recurring prices), item lists written without
// indexes, and shipping rate updates: each is refused rather than priced at less than it moves.
import { describe, expect, it } from 'vitest';
import { costContext, estimateThenSettle, type TestRequestInit } from '../__fixtures__/cost-request.js';
import type { CostContext } from '../cost-model.js';
import { loadStripeFixtures } from './__fixtures__/stripe-openapi-fixtures.js';
import { createStripeCostModel, type StripeCostOptions } from './stripe-cost-model.js';

const fixtures = loadStripeFixtures();
const run = (
  init: TestRequestInit,
  response: { json?: unknown } = {},
  options: { context?: CostContext; model?: StripeCostOptions } = {},
) => estimateThenSettle(createStripeCostModel(options.model), init, response, options.context);
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const ONE_DOLLAR_ITEM =
  'mode=payment&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=100' +
  '&line_items[0][price_data][product_data][name]=x&line_items[0][quantity]=1';

describe('Stripe item and shipping lists written without indexes', () => {
  it('should refuse optional_items[][…] even on a fallback: Rack reads it as items this model would not count', async () => {
    const body = `${ONE_DOLLAR_ITEM}&optional_items[][price]=price_big&optional_items[][quantity]=1`;
    const { estimate } = await run(
      { path: '/v1/checkout/sessions', body, headers: FORM },
      { json: { object: 'checkout.session', amount_total: 100, currency: 'usd' } },
      { model: { prices: { price_big: { unitAmount: 1_000_000, currency: 'usd' } } } },
    );
    expect(estimate).toMatchObject({
      kind: 'unknown',
      fallback: false,
      reason: expect.stringContaining('optional_items[]'),
    });
  });

  it('should refuse shipping_options[][…] and line_items[][…] on a Payment Link the same way', async () => {
    for (const body of [
      'line_items[0][price]=price_small&line_items[0][quantity]=1&shipping_options[][shipping_rate]=shr_big',
      'line_items[][price]=price_small&line_items[][quantity]=1',
    ]) {
      const { estimate } = await run(
        { path: '/v1/payment_links', body, headers: FORM },
        { json: { object: 'payment_link', id: 'plink_1' } },
        { model: { prices: { price_small: { unitAmount: 100, currency: 'usd' } } } },
      );
      expect(estimate).toMatchObject({ kind: 'unknown', fallback: false });
    }
  });
});

describe('Stripe recurring prices', () => {
  it('should not price a Checkout Session in subscription mode, as creating a subscription is not', async () => {
    const form = {
      mode: 'subscription',
      'line_items[0][price_data][currency]': 'usd',
      'line_items[0][price_data][unit_amount]': '100000',
      'line_items[0][price_data][product_data][name]': 'plan',
      'line_items[0][price_data][recurring][interval]': 'day',
      'line_items[0][quantity]': '1',
    };
    const { estimate } = await run({ path: '/v1/checkout/sessions', form });
    expect(estimate).toMatchObject({ kind: 'unknown', reason: expect.stringContaining('subscription mode') });
  });

  it("should not price a Payment Link to a recurring price (Stripe's monthly example), nor one made with price_data[recurring]", async () => {
    const price = fixtures.price as { id: string; type: string };
    expect(price.type).toBe('recurring');
    const context = costContext({ lookups: { [`/v1/prices/${price.id}`]: price } });
    const looked = await run(
      { path: '/v1/payment_links', form: { 'line_items[0][price]': price.id, 'line_items[0][quantity]': '1' } },
      {},
      { context },
    );
    expect(looked.estimate).toMatchObject({ kind: 'unknown', reason: expect.stringContaining('is recurring') });
    const inline = await run({
      path: '/v1/checkout/sessions',
      form: {
        mode: 'payment',
        'line_items[0][price_data][currency]': 'usd',
        'line_items[0][price_data][unit_amount]': '500',
        'line_items[0][price_data][product_data][name]': 'plan',
        'line_items[0][price_data][recurring][interval]': 'month',
        'line_items[0][quantity]': '1',
      },
    });
    expect(inline.estimate).toMatchObject({ kind: 'unknown', reason: expect.stringContaining('is recurring') });
  });

  it('should still price the same price as a one-time price', async () => {
    const price = { ...(fixtures.price as { id: string }), type: 'one_time', recurring: null };
    const context = costContext({ lookups: { [`/v1/prices/${price.id}`]: price } });
    const { estimate } = await run(
      { path: '/v1/payment_links', form: { 'line_items[0][price]': price.id, 'line_items[0][quantity]': '1' } },
      {},
      { context },
    );
    expect(estimate).toMatchObject({ kind: 'known', micros: 20_000_000 });
  });
});

describe('Stripe shipping rate updates', () => {
  it('should refuse one that changes its amounts even on a fallback, as a price update is, and price the rest at 0', async () => {
    const rate = await run({
      path: '/v1/shipping_rates/shr_1',
      form: { 'fixed_amount[currency_options][eur][amount]': '100000000' },
    });
    expect(rate.estimate).toMatchObject({ kind: 'unknown', fallback: false });
    const renamed = await run({ path: '/v1/shipping_rates/shr_1', form: { active: 'false', 'metadata[k]': 'v' } });
    expect(renamed.estimate).toMatchObject({ kind: 'known', micros: 0 });
  });
});
