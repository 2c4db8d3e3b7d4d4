// Zero-cost Stripe routes guard the parameters that would make Stripe charge: the guards must see
// what Stripe reads, whatever the API version, body type or spelling of a name.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { createVault } from '../../vault/create-vault.js';
import { stripeVendor } from '../../vendors/stripe-vendor.js';
import { loadStripeFixtures } from './__fixtures__/stripe-openapi-fixtures.js';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';
const fixtures = loadStripeFixtures();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

/** An upstream answering every call with `object`, recording what reached it. */
async function upstream(object: Record<string, unknown>) {
  const seen: Array<{ url: string; headers: Record<string, unknown> }> = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      seen.push({ url: request.url ?? '', headers: request.headers });
      response
        .writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_1' })
        .end(JSON.stringify(object));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function setup(object: Record<string, unknown>, options: { apiVersion?: string; creditRefunds?: boolean } = {}) {
  const fake = await upstream(object);
  const vault = createVault({
    vendors: { stripe: stripeVendor({ creditRefunds: options.creditRefunds }) },
    secrets: { stripe: SECRET },
    upstreams: { stripe: fake.url },
  });
  cleanup.push(() => vault.close());
  const key = await vault.issueKey({ vendor: 'stripe', capUsd: 1 });
  const stripe = new Stripe(key.vaultKey, {
    httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
    maxNetworkRetries: 0,
    ...(options.apiVersion ? { apiVersion: options.apiVersion as Stripe.LatestApiVersion } : {}),
  });
  return { fake, vault, key, stripe, send: vault.createFetch({ vaultKey: key.vaultKey }) };
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('Stripe zero-cost routes with guarded parameters', () => {
  it('should refuse customer parameters that charge under any API version: account_balance, plan, a card source', async () => {
    const { fake, stripe, vault, key, send } = await setup({ ...fixtures.customer, id: 'cus_1' });
    const attempts = [
      stripe.customers.update('cus_1', { account_balance: 10_000_000 } as Stripe.CustomerUpdateParams),
      stripe.customers.create({ plan: 'gold_yearly', quantity: 100 } as Stripe.CustomerCreateParams),
      stripe.customers.update('cus_1', {
        source: { object: 'card', number: '4242424242424242', exp_month: 12, exp_year: 2030 },
      } as unknown as Stripe.CustomerUpdateParams),
    ];
    for (const refused of await Promise.all(attempts.map((attempt) => attempt.catch((error: unknown) => error)))) {
      expect(refused).toBeInstanceOf(Stripe.errors.StripePermissionError);
      expect((refused as Error).message).toMatch(/can make Stripe charge/);
    }
    expect(fake.seen).toHaveLength(0);
    // What a customer call usually sets stays free.
    await stripe.customers.update('cus_1', {
      email: 'a@example.com',
      metadata: { order: '42' },
      invoice_settings: { default_payment_method: 'pm_1' },
      address: { city: 'Paris' },
    });
    expect(fake.seen).toHaveLength(1);
    // Pinned to an API version older than the model reads, a money-guarded call is not priced at all.
    const pinned = new Stripe(key.vaultKey, {
      httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
      maxNetworkRetries: 0,
      apiVersion: '2019-09-09' as Stripe.LatestApiVersion,
    });
    await expect(pinned.customers.update('cus_1', { email: 'a@example.com' })).rejects.toThrow(
      /Stripe API version "2019-09-09" is not one Keybrake prices \(2022-08-01 or later\)/,
    );
    expect(fake.seen).toHaveLength(1);
    // Read as Stripe reads it: trimmed, with any suffix after the date; a value with no date is not priced.
    const withVersion = (version: string) =>
      send('https://api.stripe.com/v1/customers/cus_1', {
        method: 'POST',
        headers: { ...FORM, 'stripe-version': version },
        body: 'email=a%40example.com',
      });
    for (const version of [' 2025-01-27.acacia ', '2026-09-30.preview', '', '2024-06-20; embedded_connect_beta=v2']) {
      expect([version, (await withVersion(version)).status]).toEqual([version, 200]);
    }
    // Two values joined by a comma (two header lines), or a date with anything else after it, may be read otherwise.
    for (const version of ['2022-07-31', 'latest', ' 2019-09-09', '2024-06-20, 2020-08-27', '2024-06-20junk']) {
      expect([version, (await withVersion(version)).status]).toEqual([version, 403]);
    }
  });

  it('should refuse Payment Link line items sent in a multipart body or under a bracketed name', async () => {
    const { fake, send } = await setup({ ...fixtures.payment_link, id: 'plink_1' });
    const url = 'https://api.stripe.com/v1/payment_links/plink_1';
    const form = new FormData();
    form.append('line_items[0][price]', 'price_big');
    form.append('line_items[0][quantity]', '1');
    const bodies: RequestInit[] = [
      { method: 'POST', headers: FORM, body: 'line_items[0][price]=price_big&line_items[0][quantity]=1' },
      { method: 'POST', body: form },
      { method: 'POST', headers: FORM, body: '[line_items][0][price]=price_big&[line_items][0][quantity]=1' },
    ];
    for (const init of bodies) expect((await send(url, init)).status).toBe(403);
    expect(fake.seen).toHaveLength(0);
  });

  it('should credit a legacy charge refund no more than the Charge says was refunded', async () => {
    const charge = { ...fixtures.charge, id: 'ch_1', currency: 'usd', amount: 100_000, amount_refunded: 100 };
    const { vault, key, send } = await setup(charge, { creditRefunds: true });
    const refund = (body: string) =>
      send('https://api.stripe.com/v1/charges/ch_1/refund', { method: 'POST', headers: FORM, body });
    expect((await refund('amount=1000000&[amount]=100')).status).toBe(403); // read two ways: not priced
    expect((await refund('amount=1000000')).status).toBe(200);
    expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(-1_000_000); // $1.00 refunded, not $10,000
  });

  it('should refuse a Checkout Session or Payment Link with more items than Stripe takes, before looking any up', async () => {
    const { fake, send } = await setup({ ...fixtures.price, id: 'price_1', unit_amount: 100, currency: 'usd' });
    const items = (count: number) =>
      [
        'mode=payment',
        ...Array.from({ length: count }, (_, index) => `line_items[${index}][price]=price_${index}`),
      ].join('&');
    for (const path of ['/v1/checkout/sessions', '/v1/payment_links']) {
      const answer = await send(`https://api.stripe.com${path}`, { method: 'POST', headers: FORM, body: items(2000) });
      expect(answer.status).toBe(403);
      expect(((await answer.json()) as { error: { message: string } }).error.message).toMatch(
        /more than 100 line items/,
      );
    }
    const shipping = Array.from({ length: 6 }, (_, index) => `shipping_options[${index}][shipping_rate]=shr_${index}`);
    const withShipping = await send('https://api.stripe.com/v1/checkout/sessions', {
      method: 'POST',
      headers: FORM,
      body: [items(1), ...shipping].join('&'),
    });
    expect(withShipping.status).toBe(403);
    // Not one price or shipping rate was looked up with the real key.
    expect(fake.seen.filter((seen) => /\/v1\/(prices|shipping_rates)\//.test(seen.url))).toHaveLength(1);
  });

  it("should refuse a Checkout Session adding to what the customer pays with an older API's parameters", async () => {
    const { fake, send } = await setup({ ...fixtures['checkout.session'], id: 'cs_1', amount_total: 500 });
    const base = 'mode=payment&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=500';
    for (const legacy of ['shipping_rates[0]=shr_big', 'subscription_data[items][0][plan]=plan_gold']) {
      const answer = await send('https://api.stripe.com/v1/checkout/sessions', {
        method: 'POST',
        headers: FORM,
        body: `${base}&${legacy}`,
      });
      expect(answer.status).toBe(403);
    }
    expect(fake.seen).toHaveLength(0);
  });
});
