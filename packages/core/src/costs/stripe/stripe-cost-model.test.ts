import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { UnknownCurrencyError } from '../../errors/unknown-currency-error.js';
import {
  costContext,
  costRequest,
  costResponse,
  estimateThenSettle,
  type TestRequestInit,
} from '../__fixtures__/cost-request.js';
import type { CostContext, CostEstimate, CostSettlement } from '../cost-model.js';
import { createStripeCostModel, type StripeCostOptions } from './stripe-cost-model.js';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`./__fixtures__/${name}.json`, import.meta.url), 'utf8'));

const paymentIntent = fixture('payment-intent');
const PI = '/v1/payment_intents/pi_1PgafyB7WZ01zgkWSjxsAJo3';

/** Estimates, then settles against a response: the two numbers a ledger would see. */
const run = (
  init: TestRequestInit,
  response: { status?: number; json?: unknown; headers?: Record<string, string> },
  options: { context?: CostContext; model?: StripeCostOptions } = {},
) => estimateThenSettle(createStripeCostModel(options.model), init, response, options.context);

const micros = (value: CostEstimate | CostSettlement) => (value.kind === 'known' ? value.micros : value.kind);

describe('createStripeCostModel', () => {
  describe('reads and non-money endpoints', () => {
    it('should price a GET at 0', async () => {
      const { estimate, settlement } = await run({ method: 'GET', path: PI }, { json: paymentIntent });
      expect(micros(estimate)).toBe(0);
      expect(micros(settlement)).toBe(0);
    });

    it('should price creating a customer at 0', async () => {
      const { estimate, settlement } = await run(
        { path: '/v1/customers', form: { email: 'a@b.c' } },
        { json: { id: 'cus_1' } },
      );
      expect(micros(estimate)).toBe(0);
      expect(micros(settlement)).toBe(0);
    });

    it('should return unknown for a POST outside both tables, such as creating a subscription', async () => {
      const { estimate } = await run({ path: '/v1/subscriptions', form: { customer: 'cus_1' } }, {});
      expect(estimate).toEqual({ kind: 'unknown', reason: expect.stringContaining('POST /v1/subscriptions') });
    });

    it('should return unknown for a DELETE outside the zero-cost table', async () => {
      const { estimate } = await run({ method: 'DELETE', path: '/v1/accounts/acct_1' }, {});
      expect(estimate.kind).toBe('unknown');
    });

    it('should price endpoints added with zeroCostEndpoints at 0', async () => {
      const { estimate, settlement } = await run(
        { path: '/v1/webhook_endpoints/we_1', form: { url: 'https://x.test' } },
        { json: {} },
        { model: { zeroCostEndpoints: ['POST /v1/webhook_endpoints/*'] } },
      );
      expect(micros(estimate)).toBe(0);
      expect(micros(settlement)).toBe(0);
    });
  });

  describe('PaymentIntents', () => {
    it('should price a create without confirm at 0 and settle it at 0', async () => {
      const { estimate, settlement } = await run(
        { path: '/v1/payment_intents', form: { amount: '1099', currency: 'usd' } },
        { json: paymentIntent },
      );
      expect(micros(estimate)).toBe(0);
      expect(micros(settlement)).toBe(0);
    });

    it('should count a create with confirm=true at its amount and settle from amount_received', async () => {
      const { estimate, settlement } = await run(
        { path: '/v1/payment_intents', form: { amount: '1099', currency: 'usd', confirm: 'true' } },
        { json: { ...paymentIntent, status: 'succeeded', amount_received: 1099 } },
      );
      expect(micros(estimate)).toBe(10_990_000);
      expect(micros(settlement)).toBe(10_990_000);
    });

    it('should price a money path in another letter case as the lower-case one, and v2 money management never on a fallback', async () => {
      // Should Stripe route them alike, a path priced as unknown would pass at a key's fallback.
      for (const path of ['/v1/Payment_Intents', '/V1/PAYMENT_INTENTS']) {
        const { estimate, settlement } = await run(
          { path, form: { amount: '1099', currency: 'usd', confirm: 'true' } },
          { json: { ...paymentIntent, status: 'succeeded', amount_received: 1099 } },
        );
        expect([micros(estimate), micros(settlement)]).toEqual([10_990_000, 10_990_000]);
      }
      const { estimate } = await run({ path: '/v2/Money_Management/outbound_payments', json: {} }, {});
      expect(estimate).toMatchObject({ kind: 'unknown', fallback: false });
    });

    it('should settle a confirmed manual-capture intent at amount_capturable', async () => {
      const { settlement } = await run(
        {
          path: '/v1/payment_intents',
          form: { amount: '1099', currency: 'usd', confirm: 'true', capture_method: 'manual' },
        },
        { json: { ...paymentIntent, status: 'requires_capture', amount_capturable: 1099 } },
      );
      expect(micros(settlement)).toBe(10_990_000);
    });

    it.each([
      ['succeeded', { amount_received: 0 }],
      ['requires_capture', { amount_capturable: 0 }],
    ])(
      'should keep the estimate of a %s intent that reports 0 moved (a contradiction, not a free call)',
      async (status, zero) => {
        const { settlement } = await run(
          { path: '/v1/payment_intents', form: { amount: '2000', currency: 'usd', confirm: 'true' } },
          // Stripe's own example object reports amount_received and amount_capturable 0.
          { json: { ...paymentIntent, status, ...zero } },
        );
        expect(micros(settlement)).toBe(20_000_000);
        expect(settlement).toMatchObject({
          note: expect.stringMatching(/no readable amount in the response, estimate kept/),
        });
      },
    );

    it('should settle a confirmation that left the intent in requires_payment_method at 0', async () => {
      const { settlement } = await run(
        { path: '/v1/payment_intents', form: { amount: '1099', currency: 'usd', confirm: 'true' } },
        { json: paymentIntent },
      );
      expect(micros(settlement)).toBe(0);
    });

    it('should price /confirm from the looked-up amount of an unconfirmed intent', async () => {
      const context = costContext({ lookups: { [PI]: { ...paymentIntent, status: 'requires_confirmation' } } });
      const { estimate, settlement } = await run(
        { path: `${PI}/confirm`, form: { payment_method: 'pm_card_visa' } },
        { json: { ...paymentIntent, status: 'succeeded', amount_received: 1099 } },
        { context },
      );
      expect(context.lookedUp).toEqual([PI]);
      expect(micros(estimate)).toBe(10_990_000);
      expect(micros(settlement)).toBe(10_990_000);
    });

    it('should price /confirm with amount_to_confirm when given', async () => {
      const context = costContext({ lookups: { [PI]: { ...paymentIntent, status: 'requires_confirmation' } } });
      const { estimate } = await run({ path: `${PI}/confirm`, form: { amount_to_confirm: '500' } }, {}, { context });
      expect(micros(estimate)).toBe(5_000_000);
    });

    it('should price /confirm of an intent already confirmed at 0, even if the response shows money', async () => {
      for (const status of ['processing', 'requires_capture', 'succeeded']) {
        const context = costContext({ lookups: { [PI]: { ...paymentIntent, status } } });
        const { estimate, settlement } = await run(
          { path: `${PI}/confirm` },
          { json: { ...paymentIntent, status: 'succeeded', amount_received: 1099 } },
          { context },
        );
        expect(micros(estimate)).toBe(0);
        expect(micros(settlement)).toBe(0);
      }
    });

    it('should price /confirm of an intent that requires action again: a new payment method or amount charges anew', async () => {
      const context = costContext({ lookups: { [PI]: { ...paymentIntent, status: 'requires_action', amount: 100 } } });
      const again = await run(
        { path: `${PI}/confirm`, form: { payment_method: 'pm_card_visa', amount_to_confirm: '1000000' } },
        { json: { ...paymentIntent, status: 'succeeded', amount: 1_000_000, amount_received: 1_000_000 } },
        { context },
      );
      expect(micros(again.estimate)).toBe(10_000_000_000);
      expect(micros(again.settlement)).toBe(10_000_000_000);
      const plain = await run(
        { path: `${PI}/confirm` },
        { json: { ...paymentIntent, status: 'requires_action' } },
        { context },
      );
      expect(micros(plain.estimate)).toBe(1_000_000);
    });

    it('should refuse to price an update that changes the amount or currency a confirmation will charge', async () => {
      for (const form of [{ amount: '1000000' }, { currency: 'eur' }] as Array<Record<string, string>>) {
        expect((await run({ path: PI, form }, { json: paymentIntent })).estimate.kind).toBe('unknown');
      }
      expect(
        micros((await run({ path: PI, form: { description: 'Order 42' } }, { json: paymentIntent })).estimate),
      ).toBe(0);
    });

    it('should return unknown for /confirm when the intent cannot be read', async () => {
      const { estimate } = await run({ path: `${PI}/confirm` }, {});
      expect(estimate).toEqual({ kind: 'unknown', reason: expect.stringContaining('could not be read') });
    });

    it('should price a capture without amount_to_capture at 0 without a lookup', async () => {
      const context = costContext();
      const { estimate, settlement } = await run(
        { path: `${PI}/capture` },
        { json: { ...paymentIntent, status: 'succeeded', amount_received: 1099 } },
        { context },
      );
      expect(context.lookedUp).toEqual([]);
      expect(micros(estimate)).toBe(0);
      expect(micros(settlement)).toBe(0);
    });

    it('should price an overcapture at the amount above amount_capturable', async () => {
      const context = costContext({
        lookups: { [PI]: { ...paymentIntent, status: 'requires_capture', amount_capturable: 1099 } },
      });
      const { estimate, settlement } = await run(
        { path: `${PI}/capture`, form: { amount_to_capture: '1299' } },
        { json: { ...paymentIntent, status: 'succeeded', amount_received: 1299 } },
        { context },
      );
      expect(micros(estimate)).toBe(2_000_000);
      expect(micros(settlement)).toBe(2_000_000);
    });

    it('should price a partial capture at 0', async () => {
      const context = costContext({
        lookups: { [PI]: { ...paymentIntent, status: 'requires_capture', amount_capturable: 1099 } },
      });
      const { estimate } = await run({ path: `${PI}/capture`, form: { amount_to_capture: '500' } }, {}, { context });
      expect(micros(estimate)).toBe(0);
    });

    it('should price increment_authorization at the increase over the current amount', async () => {
      const context = costContext({
        lookups: { [PI]: { ...paymentIntent, status: 'requires_capture', amount: 1099 } },
      });
      const { estimate, settlement } = await run(
        { path: `${PI}/increment_authorization`, form: { amount: '1500' } },
        { json: { ...paymentIntent, status: 'requires_capture', amount: 1500, amount_capturable: 1500 } },
        { context },
      );
      expect(micros(estimate)).toBe(4_010_000);
      expect(micros(settlement)).toBe(4_010_000);
    });

    it('should count create, confirm, increment and capture of one intent exactly once in total', async () => {
      let state: Record<string, unknown> = { ...paymentIntent, status: 'requires_payment_method', amount: 1000 };
      const context: CostContext = { ...costContext(), lookup: async () => state };
      const steps: Array<[TestRequestInit, Record<string, unknown>]> = [
        [{ path: '/v1/payment_intents', form: { amount: '1000', currency: 'usd', capture_method: 'manual' } }, state],
        [
          { path: `${PI}/confirm`, form: { payment_method: 'pm_card_visa' } },
          { ...state, status: 'requires_capture', amount_capturable: 1000 },
        ],
        [
          { path: `${PI}/increment_authorization`, form: { amount: '1200' } },
          { ...state, amount: 1200, amount_capturable: 1200 },
        ],
        [
          { path: `${PI}/capture` },
          { ...state, status: 'succeeded', amount: 1200, amount_received: 1200, amount_capturable: 0 },
        ],
        [{ path: `${PI}/confirm` }, { ...state, status: 'succeeded', amount: 1200, amount_received: 1200 }],
      ];
      let total = 0;
      for (const [init, after] of steps) {
        const { settlement } = await run(init, { json: after }, { context });
        total += micros(settlement) as number;
        state = after;
      }
      expect(total).toBe(12_000_000);
    });
  });

  describe('Charges', () => {
    it('should count a charge at create and settle from the charge object', async () => {
      const { estimate, settlement } = await run(
        { path: '/v1/charges', form: { amount: '100', currency: 'usd', source: 'tok_visa' } },
        { json: fixture('charge') },
      );
      expect(micros(estimate)).toBe(1_000_000);
      expect(micros(settlement)).toBe(1_000_000);
    });

    it('should count an uncaptured charge once: at create, not at capture', async () => {
      const created = await run(
        { path: '/v1/charges', form: { amount: '100', currency: 'usd', capture: 'false' } },
        { json: { ...fixture('charge'), captured: false } },
      );
      const captured = await run(
        { path: '/v1/charges/ch_1/capture' },
        { json: { ...fixture('charge'), captured: true } },
      );
      expect(micros(created.settlement)).toBe(1_000_000);
      expect(micros(captured.estimate)).toBe(0);
      expect(micros(captured.settlement)).toBe(0);
    });

    it('should settle a failed charge at 0', async () => {
      const { settlement } = await run(
        { path: '/v1/charges', form: { amount: '100', currency: 'usd' } },
        { json: { ...fixture('charge'), status: 'failed' } },
      );
      expect(micros(settlement)).toBe(0);
    });

    it('should return unknown for a charge without an amount', async () => {
      const { estimate } = await run({ path: '/v1/charges', form: { currency: 'usd' } }, {});
      expect(estimate.kind).toBe('unknown');
    });
  });

  describe('Transfers, Payouts and Topups', () => {
    it.each([
      ['/v1/transfers', 'transfer', 11_000_000],
      ['/v1/payouts', 'payout', 11_000_000],
      ['/v1/topups', 'topup', 10_000_000],
    ])('should price POST %s from amount and settle from the %s object', async (path, name, expected) => {
      const object = fixture(name);
      const { estimate, settlement } = await run(
        { path, form: { amount: String(object.amount), currency: 'usd', destination: 'acct_1' } },
        { json: object },
      );
      expect(micros(estimate)).toBe(expected);
      expect(micros(settlement)).toBe(expected);
    });

    it('should settle a failed payout at 0', async () => {
      const { settlement } = await run(
        { path: '/v1/payouts', form: { amount: '1100', currency: 'usd' } },
        { json: { ...fixture('payout'), status: 'failed' } },
      );
      expect(micros(settlement)).toBe(0);
    });
  });

  describe('Invoices', () => {
    const invoice = fixture('invoice');
    const path = `/v1/invoices/${invoice.id}`;

    it('should price paying an invoice at its looked-up amount_remaining', async () => {
      const context = costContext({ lookups: { [path]: invoice } });
      const { estimate, settlement } = await run(
        { path: `${path}/pay` },
        { json: { ...invoice, status: 'paid', amount_paid: 1000, amount_remaining: 0 } },
        { context },
      );
      expect(micros(estimate)).toBe(10_000_000);
      expect(micros(settlement)).toBe(10_000_000);
    });

    it('should price paying out of band at 0', async () => {
      const { estimate } = await run({ path: `${path}/pay`, form: { paid_out_of_band: 'true' } }, {});
      expect(micros(estimate)).toBe(0);
    });

    it('should price paying an already paid invoice at 0', async () => {
      const context = costContext({ lookups: { [path]: { ...invoice, status: 'paid', amount_remaining: 0 } } });
      const { estimate } = await run({ path: `${path}/pay` }, {}, { context });
      expect(micros(estimate)).toBe(0);
    });

    it('should return unknown when the invoice cannot be read', async () => {
      const { estimate } = await run({ path: `${path}/pay` }, {});
      expect(estimate.kind).toBe('unknown');
    });
  });

  describe('Checkout Sessions and Payment Links', () => {
    const items = {
      mode: 'payment',
      'line_items[0][price_data][currency]': 'usd',
      'line_items[0][price_data][product_data][name]': 'T-shirt',
      'line_items[0][price_data][unit_amount]': '1500',
      'line_items[0][quantity]': '2',
      'line_items[1][price]': 'price_1PgafmB7WZ01zgkW6dKueIc5',
      'line_items[1][quantity]': '1',
    };
    // Stripe's example Price is monthly; a Checkout Session in payment mode takes one-time prices.
    const price: Record<string, unknown> = { ...fixture('price'), type: 'one_time', recurring: null };

    it('should price price_data and looked-up prices, and settle at the estimate when amount_total is null', async () => {
      const context = costContext({ lookups: { [`/v1/prices/${price.id}`]: price } });
      const { estimate, settlement } = await run(
        { path: '/v1/checkout/sessions', form: items },
        { json: fixture('checkout-session') },
        { context },
      );
      expect(micros(estimate)).toBe(50_000_000);
      expect(micros(settlement)).toBe(50_000_000);
    });

    it('should use a configured price without a lookup', async () => {
      const context = costContext();
      const { estimate } = await run(
        { path: '/v1/payment_links', form: items },
        {},
        { context, model: { prices: { [String(price.id)]: { unitAmount: 999, currency: 'usd' } } } },
      );
      expect(context.lookedUp).toEqual([]);
      expect(micros(estimate)).toBe(39_990_000);
    });

    it('should return unknown for a price that is neither configured nor readable', async () => {
      const { estimate } = await run({ path: '/v1/checkout/sessions', form: items }, {});
      expect(estimate).toEqual({ kind: 'unknown', reason: expect.stringContaining(String(price.id)) });
    });

    it('should return unknown for a shipping option priced by currency, inline or looked up', async () => {
      const session = {
        mode: 'payment',
        currency: 'jpy',
        'line_items[0][price_data][currency]': 'jpy',
        'line_items[0][price_data][unit_amount]': '100',
        'line_items[0][quantity]': '1',
        'shipping_options[0][shipping_rate_data][fixed_amount][amount]': '100',
        'shipping_options[0][shipping_rate_data][fixed_amount][currency]': 'usd',
      };
      const context = costContext({
        fx: { jpy: '0.0067' },
        lookups: {
          '/v1/shipping_rates/shr_1': {
            id: 'shr_1',
            object: 'shipping_rate',
            fixed_amount: { amount: 100, currency: 'usd', currency_options: { jpy: { amount: 1_000_000 } } },
          },
        },
      });
      const inline = {
        ...session,
        'shipping_options[0][shipping_rate_data][fixed_amount][currency_options][jpy][amount]': '1000000',
      };
      expect((await run({ path: '/v1/checkout/sessions', form: inline }, {}, { context })).estimate.kind).toBe(
        'unknown',
      );
      const byId = { ...session, 'shipping_options[1][shipping_rate]': 'shr_1' };
      expect((await run({ path: '/v1/checkout/sessions', form: byId }, {}, { context })).estimate.kind).toBe('unknown');
      // Without prices by currency, the dearest option is counted.
      expect(micros((await run({ path: '/v1/checkout/sessions', form: session }, {}, { context })).estimate)).toBe(
        1_670_000,
      );
    });

    it('should return unknown for a tiered price without unit_amount', async () => {
      const context = costContext({
        lookups: { [`/v1/prices/${price.id}`]: { ...price, unit_amount: null, unit_amount_decimal: null } },
      });
      const { estimate } = await run({ path: '/v1/checkout/sessions', form: items }, {}, { context });
      expect(estimate.kind).toBe('unknown');
    });

    it('should count adjustable quantities at their maximum (99 by default) and optional items', async () => {
      const { estimate } = await run(
        {
          path: '/v1/checkout/sessions',
          form: {
            'line_items[0][price_data][currency]': 'usd',
            'line_items[0][price_data][unit_amount]': '100',
            'line_items[0][quantity]': '1',
            'line_items[0][adjustable_quantity][enabled]': 'true',
            'optional_items[0][price]': 'price_opt',
            'optional_items[0][quantity]': '1',
            'optional_items[0][adjustable_quantity][enabled]': 'true',
            'optional_items[0][adjustable_quantity][maximum]': '3',
          },
        },
        {},
        { model: { prices: { price_opt: { unitAmount: 250, currency: 'usd' } } } },
      );
      expect(micros(estimate)).toBe(99_000_000 + 7_500_000);
      // Only an explicit "false" turns it off: a spelling Stripe may also read as true counts as on.
      for (const [enabled, expected] of [
        ['True', 99_000_000],
        ['1', 99_000_000],
        ['false', 10_000_000],
      ] as const) {
        const form = {
          'line_items[0][price_data][currency]': 'usd',
          'line_items[0][price_data][unit_amount]': '100',
          'line_items[0][quantity]': '10',
          'line_items[0][adjustable_quantity][enabled]': enabled,
        };
        expect(micros((await run({ path: '/v1/checkout/sessions', form }, {})).estimate), enabled).toBe(expected);
      }
    });

    it('should add the dearest shipping option and round unit_amount_decimal up', async () => {
      const { estimate } = await run(
        {
          path: '/v1/checkout/sessions',
          form: {
            'line_items[0][price_data][currency]': 'usd',
            'line_items[0][price_data][unit_amount_decimal]': '33.3333',
            'line_items[0][quantity]': '3',
            'shipping_options[0][shipping_rate_data][fixed_amount][amount]': '500',
            'shipping_options[0][shipping_rate_data][fixed_amount][currency]': 'usd',
            'shipping_options[1][shipping_rate_data][fixed_amount][amount]': '1500',
            'shipping_options[1][shipping_rate_data][fixed_amount][currency]': 'usd',
          },
        },
        {},
      );
      expect(micros(estimate)).toBe(1_000_000 + 15_000_000);
    });

    it('should look up a shipping rate given by id', async () => {
      const context = costContext({
        lookups: { '/v1/shipping_rates/shr_1': { id: 'shr_1', fixed_amount: { amount: 700, currency: 'usd' } } },
      });
      const { estimate } = await run(
        {
          path: '/v1/checkout/sessions',
          form: {
            'line_items[0][price_data][currency]': 'usd',
            'line_items[0][price_data][unit_amount]': '1000',
            'line_items[0][quantity]': '1',
            'shipping_options[0][shipping_rate]': 'shr_1',
          },
        },
        {},
        { context },
      );
      expect(micros(estimate)).toBe(17_000_000);
    });

    it('should never put a value that is not a Stripe id into a lookup path', async () => {
      const context = costContext();
      const { estimate } = await run(
        {
          path: '/v1/checkout/sessions',
          form: { 'line_items[0][price]': '../balance', 'line_items[0][quantity]': '1' },
        },
        {},
        { context },
      );
      expect(estimate.kind).toBe('unknown');
      expect(context.lookedUp).toEqual([]);
    });

    it('should settle to amount_total when it is larger than the estimate (tax)', async () => {
      const context = costContext({ lookups: { [`/v1/prices/${price.id}`]: price } });
      const { settlement } = await run(
        { path: '/v1/checkout/sessions', form: items },
        { json: { ...fixture('checkout-session'), amount_total: 5500, currency: 'usd' } },
        { context },
      );
      expect(micros(settlement)).toBe(55_000_000);
    });

    it('should price a setup-mode session at 0', async () => {
      const { estimate, settlement } = await run(
        { path: '/v1/checkout/sessions', form: { mode: 'setup', currency: 'usd' } },
        { json: {} },
      );
      expect(micros(estimate)).toBe(0);
      expect(micros(settlement)).toBe(0);
    });

    it('should price a Payment Link update at 0 unless it changes line items', async () => {
      const deactivate = await run({ path: '/v1/payment_links/plink_1', form: { active: 'false' } }, { json: {} });
      const requantify = await run(
        { path: '/v1/payment_links/plink_1', form: { 'line_items[0][quantity]': '9' } },
        { json: {} },
      );
      expect(micros(deactivate.estimate)).toBe(0);
      expect(requantify.estimate.kind).toBe('unknown');
    });

    it('should deny, even with a fallback, a Checkout Session update that changes what it charges', async () => {
      const session = { json: fixture('checkout-session') };
      const metadata = await run(
        { path: '/v1/checkout/sessions/cs_test_1', form: { 'metadata[order]': '7' } },
        session,
      );
      expect(micros(metadata.estimate)).toBe(0);
      expect(micros(metadata.settlement)).toBe(0);
      const updates: Array<Record<string, string>> = [
        { 'line_items[0][id]': 'li_1', 'line_items[0][quantity]': '500' },
        { 'shipping_options[0][shipping_rate]': 'shr_1' },
      ];
      for (const form of updates) {
        const update = await run({ path: '/v1/checkout/sessions/cs_test_1', form }, session);
        expect(update.estimate).toMatchObject({ kind: 'unknown', fallback: false });
      }
    });
  });

  describe('Refunds', () => {
    const refund = fixture('refund');

    it('should price a refund at 0 and not credit it by default', async () => {
      const { estimate, settlement } = await run(
        { path: '/v1/refunds', form: { payment_intent: 'pi_1' } },
        { json: refund },
      );
      expect(micros(estimate)).toBe(0);
      expect(micros(settlement)).toBe(0);
    });

    it('should settle a refund to a negative amount with creditRefunds', async () => {
      const { settlement } = await run(
        { path: '/v1/refunds', form: { payment_intent: 'pi_1' } },
        { json: refund },
        { model: { creditRefunds: true } },
      );
      expect(micros(settlement)).toBe(-1_000_000);
    });

    it('should round a credit toward zero so that it never exceeds the refund', async () => {
      const { settlement } = await run(
        { path: '/v1/refunds', form: { charge: 'ch_1' } },
        { json: { ...refund, amount: 1, currency: 'eur' } },
        { model: { creditRefunds: true }, context: costContext({ fx: { eur: '1.0850005' } }) },
      );
      expect(micros(settlement)).toBe(-10_850);
    });

    it('should not credit a failed refund', async () => {
      const { settlement } = await run(
        { path: '/v1/refunds', form: { charge: 'ch_1' } },
        { json: { ...refund, status: 'failed' } },
        { model: { creditRefunds: true } },
      );
      expect(micros(settlement)).toBe(0);
    });
  });

  describe('settlement safety', () => {
    const charge = { path: '/v1/charges', form: { amount: '2000', currency: 'usd' } };

    it('should settle with the options of the model that settles, never those of the model that estimated', async () => {
      // A vendor whose Stripe model is rebuilt when its configuration changes (refunds no longer credited).
      const context = costContext();
      const request = costRequest({ path: '/v1/refunds', form: { charge: 'ch_1', amount: '5000' } });
      const estimate = await createStripeCostModel({ creditRefunds: true }).estimate(request, context);
      const refund = { id: 're_1', object: 'refund', amount: 5000, currency: 'usd', status: 'succeeded' };
      expect(
        createStripeCostModel({ creditRefunds: false }).settle(request, costResponse(200, refund), estimate, context),
      ).toEqual({ kind: 'known', micros: 0, note: 'refund: not credited' });
    });

    it('should estimate with a plain object, as printed and strictly compared', async () => {
      const estimate = await createStripeCostModel().estimate(
        costRequest({ path: '/v1/charges', form: { amount: '100', currency: 'usd' } }),
        costContext(),
      );
      expect(inspect(estimate)).toBe("{ kind: 'known', micros: 1000000, note: 'charge' }");
      expect(estimate).toStrictEqual({ kind: 'known', micros: 1_000_000, note: 'charge' });
    });

    it('should settle a request by its own form and route, never by those read for another request', async () => {
      const model = createStripeCostModel({ creditRefunds: true });
      const context = costContext();
      const refunded = {
        id: 'ch_1',
        object: 'charge',
        amount: 10_000,
        amount_refunded: 800,
        currency: 'usd',
        status: 'succeeded',
      };
      const first = costRequest({ path: '/v1/charges/ch_1/refund', form: { amount: '500' } });
      const second = costRequest({ path: '/v1/charges/ch_1/refund', form: { amount: '100' } });
      const firstEstimate = await model.estimate(first, context);
      // The estimate carries what it read privately: not in its JSON or equality.
      expect(firstEstimate).toEqual({ kind: 'known', micros: 0, note: 'refund: credited when it succeeds' });
      expect(JSON.parse(JSON.stringify(firstEstimate))).toEqual(firstEstimate);
      expect(model.settle(first, costResponse(200, refunded), firstEstimate, context)).toMatchObject({
        micros: -5_000_000,
      });
      expect(model.settle(second, costResponse(200, refunded), firstEstimate, context)).toMatchObject({
        micros: -1_000_000,
      });
      // A Charge create settled with the refund's estimate is read as a Charge.
      const create = costRequest({ path: '/v1/charges', form: { amount: '2000', currency: 'usd' } });
      expect(
        model.settle(
          create,
          costResponse(200, { ...refunded, amount: 2000 }),
          { kind: 'known', micros: 20_000_000 },
          context,
        ),
      ).toMatchObject({ micros: 20_000_000 });
      expect(
        model.settle(create, costResponse(200, { ...refunded, amount: 2000 }), firstEstimate, context),
      ).toMatchObject({
        micros: 20_000_000,
      });
    });

    it('should settle a 4xx answer at 0', async () => {
      const { settlement } = await run(charge, { status: 402, json: { error: { type: 'card_error' } } });
      expect(micros(settlement)).toBe(0);
    });

    it('should keep the estimate on a 5xx answer to a money call', async () => {
      const { settlement } = await run(charge, { status: 500, json: { error: { type: 'api_error' } } });
      expect(micros(settlement)).toBe(20_000_000);
    });

    it('should settle an idempotent replay at 0', async () => {
      const { settlement } = await run(charge, { json: fixture('charge'), headers: { 'Idempotent-Replayed': 'true' } });
      expect(micros(settlement)).toBe(0);
    });

    it('should settle a replayed 5xx answer at 0 too', async () => {
      const { settlement } = await run(charge, { status: 500, json: {}, headers: { 'Idempotent-Replayed': 'true' } });
      expect(micros(settlement)).toBe(0);
    });

    it('should keep the estimate for a 2xx answer without a readable amount', async () => {
      const { settlement } = await run(charge, { json: { id: 'ch_1', object: 'charge' } });
      expect(micros(settlement)).toBe(20_000_000);
    });

    it('should keep the estimate when the response currency has no FX rate', async () => {
      const { settlement } = await run(charge, { json: { ...fixture('charge'), currency: 'gbp' } });
      expect(micros(settlement)).toBe(20_000_000);
    });

    it('should keep an unknown estimate unknown for an unpriced endpoint', async () => {
      const { settlement } = await run({ path: '/v1/subscriptions' }, { json: { id: 'sub_1' } });
      expect(settlement.kind).toBe('unknown');
    });
  });

  describe('currencies', () => {
    const context = costContext({ fx: { jpy: '0.0067', kwd: '3.25', eur: '1.08' } });
    const charge = (amount: string, currency: string) => ({ path: '/v1/charges', form: { amount, currency } });

    it('should convert USD cents exactly', async () => {
      expect(micros((await run(charge('1999', 'usd'), {}, { context })).estimate)).toBe(19_990_000);
    });

    it('should treat JPY as zero-decimal', async () => {
      expect(micros((await run(charge('1000', 'jpy'), {}, { context })).estimate)).toBe(6_700_000);
    });

    it('should treat KWD as three-decimal', async () => {
      expect(micros((await run(charge('1234', 'kwd'), {}, { context })).estimate)).toBe(4_010_500);
    });

    it('should convert EUR with its rate', async () => {
      expect(micros((await run(charge('1999', 'eur'), {}, { context })).estimate)).toBe(21_589_200);
    });

    it('should throw UnknownCurrencyError for a currency without a rate', async () => {
      await expect(run(charge('1000', 'gbp'), {}, { context })).rejects.toBeInstanceOf(UnknownCurrencyError);
    });
  });
});
