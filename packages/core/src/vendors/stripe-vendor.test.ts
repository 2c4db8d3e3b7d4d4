import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import { type DenialServer, startDenialServer } from './__fixtures__/denial-server.js';
import { denials } from './__fixtures__/denials.js';
import { stripeVendor } from './stripe-vendor.js';

const vendor = stripeVendor();

describe('stripeVendor', () => {
  describe('secrets and authorisation', () => {
    it('should accept secret and restricted keys', () => {
      expect(vendor.parseSecret('sk_test_51Habc')).toBe('sk_test_51Habc');
      expect(vendor.parseSecret('rk_live_51Habc')).toBe('rk_live_51Habc');
    });

    it('should reject anything else without echoing it', () => {
      for (const secret of ['pk_test_51Habc', 'sk_test_', 42, { key: 'sk_test_1' }]) {
        expect(() => vendor.parseSecret(secret)).toThrow(InvalidPolicyError);
      }
      expect(() => vendor.parseSecret('pk_live_SECRETVALUE')).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining('SECRETVALUE') }),
      );
    });

    it('should set a bearer authorization and keep the path', () => {
      const headers: Record<string, string> = { authorization: 'Bearer kb_test_vaultkey' };
      expect(vendor.authorize({ path: '/v1/charges', headers }, 'sk_test_real')).toEqual({ path: '/v1/charges' });
      expect(headers.authorization).toBe('Bearer sk_test_real');
    });
  });

  describe('denials seen through stripe-node', () => {
    let server: DenialServer;
    let stripe: Stripe;

    beforeAll(async () => {
      server = await startDenialServer();
      stripe = new Stripe('sk_test_vaultkey', {
        host: '127.0.0.1',
        port: server.port,
        protocol: 'http',
        telemetry: false,
      });
    });
    afterAll(() => server.close());

    async function deny(error: KeybrakeError): Promise<unknown> {
      server.answerWith(vendor.errorResponse(error));
      return stripe.paymentIntents.create({ amount: 1099, currency: 'usd', confirm: true }).then(
        () => {
          throw new Error('expected a Stripe error');
        },
        (thrown: unknown) => thrown,
      );
    }

    it.each([
      ['cap', denials.cap, Stripe.errors.StripeRateLimitError, 429],
      ['endpoint', denials.endpoint, Stripe.errors.StripePermissionError, 403],
      ['unknownCost', denials.unknownCost, Stripe.errors.StripePermissionError, 403],
      ['revoked', denials.revoked, Stripe.errors.StripeAuthenticationError, 401],
      ['invalidRequest', denials.invalidRequest, Stripe.errors.StripeAPIError, 413],
      ['storage', denials.storage, Stripe.errors.StripeAPIError, 503],
      ['upstream', denials.upstream, Stripe.errors.StripeAPIError, 502],
    ] as const)(
      'should raise the %s denial as its Stripe error class, once, without retrying',
      async (_name, error, errorClass, status) => {
        const thrown = await deny(error);
        expect(thrown).toBeInstanceOf(errorClass);
        expect(thrown).toMatchObject({
          statusCode: status,
          code: error.code,
          doc_url: `https://keybrake.dev/errors/${error.code}`,
          raw: { keybrake: JSON.parse(JSON.stringify(error.toJSON())) },
        });
        expect((thrown as Error).message).toBe(error.message);
        expect(server.requests).toHaveLength(1);
        expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/v1/payment_intents' });
      },
    );

    it('should carry the Keybrake message an agent reads', async () => {
      const thrown = await deny(denials.cap);
      expect(String((thrown as Error).message)).toContain('Retrying will not help');
    });
  });

  describe('error response', () => {
    it('should tell every client not to retry and keep the status of the error', () => {
      const response = vendor.errorResponse(denials.storage);
      expect(response.status).toBe(503);
      expect(response.headers).toMatchObject({ 'stripe-should-retry': 'false', 'x-should-retry': 'false' });
      expect(JSON.parse(response.body)).toMatchObject({ error: { type: 'api_error', code: 'KEYBRAKE_STORAGE_ERROR' } });
    });
  });
});
