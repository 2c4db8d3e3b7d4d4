import { describe, expect, it } from 'vitest';
import { hasAmountField, loadStripeFixtures } from './__fixtures__/stripe-openapi-fixtures.js';
import { parseStripeObject } from './parse-stripe-object.js';

const fixtures = loadStripeFixtures();

describe('parseStripeObject', () => {
  describe("Stripe's example objects", () => {
    it('should load all 176 example objects', () => {
      expect(Object.keys(fixtures)).toHaveLength(176);
    });

    it.each(Object.entries(fixtures).filter(([, object]) => hasAmountField(object)))(
      'should read %s without throwing',
      (_name, object) => {
        const parsed = parseStripeObject(object);
        expect(parsed).toBeDefined();
        expect(parsed?.object).toBe(object.object);
        const amount = object.amount;
        expect(parsed?.amount).toBe(typeof amount === 'number' && Number.isInteger(amount) ? amount : undefined);
      },
    );
  });

  describe('tolerance', () => {
    it('should read a field of the wrong type as undefined instead of failing', () => {
      const parsed = parseStripeObject({
        object: 'payment_record',
        amount: { currency: 'usd', value: 100 },
        currency: 'USD',
      });
      expect(parsed).toMatchObject({ object: 'payment_record', amount: undefined, currency: 'usd' });
    });

    it('should read a fractional or unsafe amount, a numeric string and a non-boolean flag as undefined', () => {
      expect(
        parseStripeObject({ amount: 10.5, amount_received: 2 ** 53, amount_total: '1000', captured: 'true', paid: 1 }),
      ).toMatchObject({
        amount: undefined,
        amountReceived: undefined,
        amountTotal: undefined,
        captured: undefined,
        paid: undefined,
      });
      expect(parseStripeObject({ amount: 0, captured: false, paid: true })).toMatchObject({
        amount: 0,
        captured: false,
        paid: true,
      });
    });

    it('should read null fields as undefined', () => {
      expect(parseStripeObject({ amount_total: null, currency: null })).toMatchObject({
        amountTotal: undefined,
        currency: undefined,
      });
    });

    it.each([undefined, null, 'text', 42, [1, 2]])('should return undefined for the non-object %j', (json) => {
      expect(parseStripeObject(json)).toBeUndefined();
    });
  });
});
