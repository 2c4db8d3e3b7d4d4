import { describe, expect, it } from 'vitest';
import { costContext, costRequest, costResponse, type TestRequestInit } from '../__fixtures__/cost-request.js';
import { hasAmountField, loadStripeFixtures } from './__fixtures__/stripe-openapi-fixtures.js';
import { createStripeCostModel } from './stripe-cost-model.js';

const fixtures = loadStripeFixtures();
const withAmounts = Object.entries(fixtures).filter(([, object]) => hasAmountField(object));
const idOf = (name: string) => String(fixtures[name]?.id);

/**
 * The endpoint whose response each money-moving example object is, the request that produced it,
 * and what Keybrake must count for it. The example PaymentIntent is in `requires_payment_method`
 * (its confirmation failed), so nothing was committed.
 */
const moneyMoving: Record<string, { init: TestRequestInit; lookups?: Record<string, unknown>; micros: number }> = {
  payment_intent: {
    init: { path: '/v1/payment_intents', form: { amount: '1099', currency: 'usd', confirm: 'true' } },
    micros: 0,
  },
  charge: { init: { path: '/v1/charges', form: { amount: '100', currency: 'usd' } }, micros: 1_000_000 },
  transfer: {
    init: { path: '/v1/transfers', form: { amount: '1100', currency: 'usd', destination: 'acct_1' } },
    micros: 11_000_000,
  },
  payout: { init: { path: '/v1/payouts', form: { amount: '1100', currency: 'usd' } }, micros: 11_000_000 },
  topup: { init: { path: '/v1/topups', form: { amount: '1000', currency: 'usd' } }, micros: 10_000_000 },
  invoice: {
    init: { path: `/v1/invoices/${idOf('invoice')}/pay` },
    lookups: { [`/v1/invoices/${idOf('invoice')}`]: fixtures.invoice },
    micros: 10_000_000,
  },
  'checkout.session': {
    init: {
      path: '/v1/checkout/sessions',
      form: {
        mode: 'payment',
        'line_items[0][price]': idOf('price'),
        'line_items[0][quantity]': '3',
      },
    },
    // Stripe's example Price is monthly; a session in payment mode takes it as a one-time price.
    lookups: { [`/v1/prices/${idOf('price')}`]: { ...fixtures.price, type: 'one_time', recurring: null } },
    micros: 60_000_000,
  },
};

/** Endpoints that answer with other objects; the rest are read at `POST /v1/<resource>s`. */
const otherEndpoints: Record<string, string> = {
  refund: '/v1/refunds',
  transfer_reversal: `/v1/transfers/${idOf('transfer')}/reversals`,
};

const resourcePath = (name: string) => `/v1/${name.replace(/^deleted_/, '').replace(/\./g, '/')}s`;

describe('createStripeCostModel', () => {
  describe("settling Stripe's example objects", () => {
    it('should cover the money-moving resources', () => {
      expect(Object.keys(moneyMoving).every((name) => name in fixtures)).toBe(true);
      expect(withAmounts).toHaveLength(54);
    });

    it.each(Object.entries(moneyMoving))(
      'should count the %s example exactly',
      async (name, { init, lookups, micros }) => {
        const model = createStripeCostModel();
        const context = costContext(lookups ? { lookups } : {});
        const request = costRequest(init);
        const estimate = await model.estimate(request, context);
        const settlement = model.settle(request, costResponse(200, fixtures[name]), estimate, context);
        expect(settlement).toMatchObject({ kind: 'known', micros });
      },
    );

    it.each(Object.entries(fixtures))(
      'should settle %s as a POST response and a GET response without throwing',
      async (name, object) => {
        const model = createStripeCostModel({ creditRefunds: true });
        const context = costContext();
        const post = costRequest(moneyMoving[name]?.init ?? { path: otherEndpoints[name] ?? resourcePath(name) });
        const estimate = await model.estimate(post, context);
        const settlement = model.settle(post, costResponse(200, object), estimate, context);
        expect(['known', 'unknown']).toContain(settlement.kind);
        if (settlement.kind === 'known') expect(Number.isSafeInteger(settlement.micros)).toBe(true);

        const get = costRequest({ method: 'GET', path: `${resourcePath(name)}/${String(object.id)}` });
        expect(model.settle(get, costResponse(200, object), await model.estimate(get, context), context)).toEqual({
          kind: 'known',
          micros: 0,
        });
      },
    );
  });
});
