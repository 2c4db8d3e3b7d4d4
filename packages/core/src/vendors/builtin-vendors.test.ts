import { describe, expect, it } from 'vitest';
import { costContext, costRequest } from '../costs/__fixtures__/cost-request.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { builtinVendors } from './builtin-vendors.js';

describe('builtinVendors', () => {
  describe('defaults', () => {
    it('should define stripe, twilio and resend with their real base URLs', () => {
      const vendors = builtinVendors();
      expect(Object.keys(vendors)).toEqual(['stripe', 'twilio', 'resend']);
      expect(vendors.stripe?.baseUrl).toBe('https://api.stripe.com');
      expect(vendors.twilio?.baseUrl).toBe('https://api.twilio.com');
      expect(vendors.resend?.baseUrl).toBe('https://api.resend.com');
      for (const [name, vendor] of Object.entries(vendors)) expect(vendor.name).toBe(name);
    });
  });

  describe('options', () => {
    it("should pass each vendor's options to its cost model", async () => {
      const vendors = builtinVendors({ resend: { perEmailUsd: '0.002' }, twilio: { smsSegmentUsd: '0.01' } });
      const email = costRequest({ path: '/emails', json: { from: 'a@x.test', to: ['b@x.test', 'c@x.test'] } });
      const sms = costRequest({
        path: '/2010-04-01/Accounts/AC1/Messages.json',
        form: { To: '+15550001111', Body: 'hi' },
      });
      expect(await vendors.resend?.costModel.estimate(email, costContext())).toMatchObject({ micros: 4_000 });
      expect(await vendors.twilio?.costModel.estimate(sms, costContext())).toMatchObject({ micros: 10_000 });
    });

    it('should reject malformed options', () => {
      expect(() => builtinVendors({ stripe: { zeroCostEndpoints: ['FETCH /v1'] } })).toThrow(InvalidPolicyError);
      expect(() => builtinVendors({ stripe: { prices: { price_1: { unitAmount: 1.5, currency: 'usd' } } } })).toThrow(
        InvalidPolicyError,
      );
    });
  });
});
