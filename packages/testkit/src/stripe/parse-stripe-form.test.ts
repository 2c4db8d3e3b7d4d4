import { describe, expect, it } from 'vitest';
import { parseStripeForm } from './parse-stripe-form.js';

describe('parseStripeForm', () => {
  describe('when keys are bracketed and percent-encoded', () => {
    it('should keep flat bracketed keys exactly as sent', () => {
      const body =
        'mode=payment&line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=1500&line_items[0][quantity]=2&metadata[note]=a+b%26c';

      expect(parseStripeForm(body)).toEqual({
        mode: 'payment',
        'line_items[0][price_data][unit_amount]': '1500',
        'line_items[0][quantity]': '2',
        'metadata[note]': 'a b&c',
      });
    });
  });

  describe('when the body is empty', () => {
    it('should return an empty object', () => {
      expect(parseStripeForm('')).toEqual({});
    });
  });
});
