import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CostModel } from '../costs/cost-model.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import type { VendorDefinition } from '../vendors/vendor-definition.js';
import { createVault, type Vault } from './create-vault.js';

const SECRET = 'acme_live_SECRET_0123456789abcdef';

describe('cost model lookups, redaction and aborts', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let vault: Vault | undefined;
  beforeAll(async () => {
    upstream = await startRecordingUpstream((request) => {
      if (request.url.startsWith('/lookup/json-api'))
        return { body: { unit_amount: 250 }, headers: { 'content-type': 'application/vnd.acme+json' } };
      if (request.url.startsWith('/lookup/slow')) return { body: { unit_amount: 250 }, delayMs: 400 };
      if (request.url.startsWith('/lookup')) return { body: { unit_amount: 250 } };
      if (request.method === 'GET' && request.url.startsWith('/v1/payment_intents/pi_1'))
        return {
          body: { id: 'pi_1', object: 'payment_intent', status: 'requires_confirmation', amount: 500, currency: 'usd' },
          delayMs: 400,
        };
      if (request.url.startsWith('/v1/account')) return { body: { account_id: 'a1b2c3d4', balance: '10.00' } };
      return { body: { ok: true } };
    });
  });
  afterEach(async () => {
    await vault?.close();
    vault = undefined;
  });
  afterAll(() => upstream.close());

  // Prices a call at the `unit_amount` (cents) a lookup reads; unknown if it cannot read it.
  const pricedBy = (lookupPath: string): CostModel => ({
    async estimate(request, context) {
      if (request.method === 'GET') return { kind: 'known', micros: 0 };
      const price = (await context.lookup(lookupPath)) as { unit_amount?: number } | undefined;
      return typeof price?.unit_amount === 'number'
        ? { kind: 'known', micros: price.unit_amount * 10_000 }
        : { kind: 'unknown', reason: 'price unreadable' };
    },
    settle: (_request, _response, estimate) => (estimate.kind === 'known' ? estimate : { kind: 'unknown', reason: '' }),
  });

  describe('(b) a lookup of a vendor whose authorize sets a non-credential header', () => {
    it.each([
      [
        'accept: application/vnd.acme+json (JSON:API, GitHub style)',
        '/lookup/json-api',
        'accept',
        'application/vnd.acme+json',
      ],
      ['content-type: application/json', '/lookup/price', 'content-type', 'application/json'],
    ])('should still read the answer (%s)', async (_, lookupPath, header, value) => {
      const base = createBearerVendor({ name: 'acme', baseUrl: upstream.url, costModel: pricedBy(lookupPath) });
      const acme: VendorDefinition<string> = {
        ...base,
        authorize(request, secret) {
          request.headers[header] = value;
          return base.authorize(request, secret);
        },
      };
      vault = createVault({ vendors: { acme }, secrets: { acme: SECRET } });
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })(`${upstream.url}/v1/charges`, {
        method: 'POST',
        body: '{}',
      });
      // Not a credential: redacted, the answer's content-type would no longer read as JSON.
      expect(response.headers.get('x-keybrake-code')).toBeNull();
      expect(response.status).toBe(200);
      expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(2.5);
    });
  });

  describe('(a) a Basic user name that is an identifier (Vonage: api_key:api_secret)', () => {
    it('should not redact the identifier from the answer', async () => {
      type Secret = { apiKey: string; apiSecret: string };
      const vonageLike: VendorDefinition<Secret> = {
        name: 'vonage',
        baseUrl: upstream.url,
        costModel: pricedBy('/lookup/price'),
        parseSecret: (secret) => secret as Secret,
        authorize(request, secret) {
          request.headers.authorization = `Basic ${Buffer.from(`${secret.apiKey}:${secret.apiSecret}`).toString('base64')}`;
          return { path: request.path };
        },
        errorResponse: (error) => ({ status: error.status, headers: {}, body: error.message }),
      };
      vault = createVault({
        vendors: { vonage: vonageLike },
        secrets: { vonage: { apiKey: 'a1b2c3d4', apiSecret: 'Zx9secretSecret42' } },
      });
      const key = await vault.issueKey({ vendor: 'vonage', capUsd: 5 });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })(`${upstream.url}/v1/account`);
      expect(await response.json()).toEqual({ account_id: 'a1b2c3d4', balance: '10.00' });
    });
  });

  describe('(d) a caller that aborts while the cost model looks the vendor up', () => {
    it('should reject with the abort, not with the model error it caused', async () => {
      const acme = createBearerVendor({
        name: 'acme',
        baseUrl: upstream.url,
        costModel: {
          async estimate(_request, context) {
            // A typical custom model: reads the lookup's field without a guard.
            const price = (await context.lookup('/lookup/slow')) as { unit_amount: number };
            return { kind: 'known', micros: price.unit_amount * 10_000 };
          },
          settle: (_q, _r, estimate) => (estimate.kind === 'known' ? estimate : { kind: 'unknown', reason: '' }),
        },
      });
      vault = createVault({ vendors: { acme }, secrets: { acme: SECRET } });
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const sent = vault.createFetch({ vaultKey: key.vaultKey })(`${upstream.url}/v1/charges`, {
        method: 'POST',
        body: '{}',
        signal: controller.signal,
      });
      // Not the model's TypeError "Cannot read properties of undefined (reading 'unit_amount')".
      await expect(sent).rejects.toMatchObject({ name: 'AbortError' });
      expect((await vault.getKeyStatus(key.id)).reservedUsd).toBe(0);
    });
  });

  describe('(d) builtin Stripe: a caller that aborts during the PaymentIntent lookup of a confirm', () => {
    it('should reject with the abort, not resolve to a 403 unknown-cost denial', async () => {
      vault = createVault({
        secrets: { stripe: 'sk_test_0123456789abcdefABCDEF' },
        upstreams: { stripe: upstream.url },
      });
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 50 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const sent = vault.createFetch({ vaultKey: key.vaultKey })(
        'https://api.stripe.com/v1/payment_intents/pi_1/confirm',
        {
          method: 'POST',
          body: '',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          signal: controller.signal,
        },
      );
      // Not a 403 KEYBRAKE_UNKNOWN_COST "PaymentIntent pi_1 could not be read", audited as a denial.
      await expect(sent.then((r) => `${r.status} ${r.headers.get('x-keybrake-code')}`)).rejects.toMatchObject({
        name: 'AbortError',
      });
    });
  });

  describe('(d) builtin Stripe: a Checkout Session whose total passes 2^53 micro-dollars', () => {
    it('should be denied as an unknown cost, not as a malformed estimate of a model to "fix"', async () => {
      vault = createVault({
        secrets: { stripe: 'sk_test_0123456789abcdefABCDEF' },
        upstreams: { stripe: upstream.url },
      });
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 50 });
      const form = new URLSearchParams({
        mode: 'payment',
        'line_items[0][price_data][currency]': 'usd',
        'line_items[0][price_data][unit_amount]': '500000000000',
        'line_items[0][quantity]': '1',
        'shipping_options[0][shipping_rate_data][fixed_amount][amount]': '500000000000',
        'shipping_options[0][shipping_rate_data][fixed_amount][currency]': 'usd',
      });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })(
        'https://api.stripe.com/v1/checkout/sessions',
        {
          method: 'POST',
          body: form.toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      );
      const text = await response.text();
      expect(text).toContain('line item total too large');
      expect(response.headers.get('x-keybrake-code')).toBe('KEYBRAKE_UNKNOWN_COST');
    });
  });
});
