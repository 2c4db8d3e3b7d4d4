// A call the estimate could not price goes through only with a key's fallback estimate; its
// settlement must then not trust the form the estimate could not read, nor settle below what
// Stripe's answer shows committed.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createVault } from '../../vault/create-vault.js';
import { costContext, estimateThenSettle } from '../__fixtures__/cost-request.js';
import { loadStripeFixtures } from './__fixtures__/stripe-openapi-fixtures.js';
import { createStripeCostModel } from './stripe-cost-model.js';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';
const fixtures = loadStripeFixtures();
const model = createStripeCostModel();

describe('Stripe settlement of a call priced by a fallback estimate', () => {
  it('should settle a PaymentIntent Stripe shows succeeded at what it received, whatever the form seemed to say', async () => {
    const succeeded = { ...fixtures.payment_intent, status: 'succeeded', amount: 50_000, amount_received: 50_000 };
    for (const body of [
      'amount=50000&currency=usd&confirm]=true&payment_method=pm_card_visa',
      'amount=50000&currency=usd; confirm=true&payment_method=pm_card_visa',
      'amount=50000&currency=usd& confirm=true&payment_method=pm_card_visa',
    ]) {
      const { estimate, settlement } = await estimateThenSettle(
        model,
        { path: '/v1/payment_intents', body },
        { json: succeeded },
      );
      expect(estimate.kind).toBe('unknown');
      expect(settlement).toMatchObject({ kind: 'known', micros: 500_000_000 });
    }
    // A PaymentIntent created unconfirmed is still 0.
    const created = { ...fixtures.payment_intent, status: 'requires_payment_method' };
    const unconfirmed = await estimateThenSettle(
      model,
      { path: '/v1/payment_intents', form: { amount: '50000', currency: 'usd' } },
      { json: created },
    );
    expect(unconfirmed.settlement).toMatchObject({ kind: 'known', micros: 0 });
  });

  it('should settle a Checkout Session it could not price at no less than its opening amount_total', async () => {
    const tiered = {
      ...fixtures.price,
      billing_scheme: 'tiered',
      tiers_mode: 'volume',
      unit_amount: null,
      unit_amount_decimal: null,
    };
    const price = String(fixtures.price?.id);
    const session = { ...fixtures['checkout.session'], mode: 'payment', amount_total: 2000, currency: 'usd' };
    const adjustable = await estimateThenSettle(
      model,
      {
        path: '/v1/checkout/sessions',
        form: {
          mode: 'payment',
          'line_items[0][price]': price,
          'line_items[0][quantity]': '1',
          'line_items[0][adjustable_quantity][enabled]': 'true',
        },
      },
      { json: session },
      costContext({ lookups: { [`/v1/prices/${price}`]: tiered } }),
    );
    expect(adjustable.estimate.kind).toBe('unknown');
    // Only the least it will collect: the vault counts the larger of it and the fallback.
    expect(adjustable.settlement).toMatchObject({ kind: 'known', micros: 20_000_000, atLeast: true });
    // A form read otherwise (`mode]`) no longer settles a session Stripe answers in payment mode at 0.
    const odd = await estimateThenSettle(
      model,
      {
        path: '/v1/checkout/sessions',
        body: 'mode=setup&mode]=payment&line_items[0][price]=price_1&line_items[0][quantity]=1',
      },
      { json: { ...session, amount_total: 200_000 } },
    );
    expect(odd.estimate.kind).toBe('unknown');
    expect(odd.settlement).toMatchObject({ kind: 'known', micros: 2_000_000_000, atLeast: true });
  });

  it('should count the larger of the fallback and the amount_total Stripe answered, through the vault', async () => {
    const tiered = {
      ...fixtures.price,
      id: 'price_tiered',
      billing_scheme: 'tiered',
      unit_amount: null,
      unit_amount_decimal: null,
    };
    let amountTotal = 50_000;
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const session = {
          ...fixtures['checkout.session'],
          mode: 'payment',
          amount_total: amountTotal,
          currency: 'usd',
        };
        response.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_1' });
        response.end(JSON.stringify(request.method === 'GET' ? tiered : session));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: `http://127.0.0.1:${port}` } });
    try {
      const create = async (fallbackEstimateUsd: number) => {
        const key = await vault.issueKey({ vendor: 'stripe', capUsd: 1000, fallbackEstimateUsd });
        const answer = await vault.createFetch({ vaultKey: key.vaultKey })(
          'https://api.stripe.com/v1/checkout/sessions',
          {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'mode=payment&line_items[0][price]=price_tiered&line_items[0][quantity]=1',
          },
        );
        await answer.arrayBuffer();
        return (await vault.getKeyStatus(key.id)).spentUsd;
      };
      expect(await create(1)).toBe(500);
      amountTotal = 2000;
      expect(await create(100)).toBe(100);
    } finally {
      await vault.close();
      server.close();
    }
  });

  it('should count a fallback-priced PaymentIntent confirmation at what Stripe received, through the vault', async () => {
    const succeeded = { ...fixtures.payment_intent, status: 'succeeded', amount: 50_000, amount_received: 50_000 };
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        // The PaymentIntent is not found: its confirmation cannot be priced before it is sent.
        if (request.method === 'GET') {
          response.writeHead(404, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: { type: 'invalid_request_error', code: 'resource_missing' } }));
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_1' });
        response.end(JSON.stringify(succeeded));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: `http://127.0.0.1:${port}` } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 1000, fallbackEstimateUsd: 50 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      // A form Stripe could read otherwise is refused, even with a fallback: nothing is sent.
      const odd = await send('https://api.stripe.com/v1/payment_intents', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'amount=50000&currency=usd&confirm]=true&payment_method=pm_card_visa',
      });
      expect(odd.status).toBe(403);
      expect((await vault.getKeyStatus(key.id)).calls).toBe(0);
      // A confirmation whose PaymentIntent could not be looked up: the fallback lets it through,
      // and Stripe's answer says what it took.
      const answer = await send('https://api.stripe.com/v1/payment_intents/pi_1/confirm', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'payment_method=pm_card_visa',
      });
      expect(answer.status).toBe(200);
      await answer.arrayBuffer();
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(500_000_000);
    } finally {
      await vault.close();
      server.close();
    }
  });
});
