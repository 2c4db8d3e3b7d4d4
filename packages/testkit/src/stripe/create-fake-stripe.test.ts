import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeStripe, type FakeStripe } from './create-fake-stripe.js';

const secret = 'sk_test_51HfakeSecretKey4242';

interface StripeAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: Record<string, string> };
}

async function call(
  fake: FakeStripe,
  method: string,
  path: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<StripeAnswer> {
  const form = new URLSearchParams(params).toString();
  const response = await fetch(`${fake.url}${path}${method === 'GET' && form ? `?${form}` : ''}`, {
    method,
    headers: {
      authorization: `Bearer ${secret}`,
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    body: method === 'GET' ? undefined : form,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as StripeAnswer['body'] };
}

describe('createFakeStripe', () => {
  let fake: FakeStripe;

  beforeAll(async () => {
    fake = await createFakeStripe({ secret });
  });

  afterAll(async () => {
    await fake.close();
  });

  beforeEach(() => {
    fake.reset();
  });

  describe('when a payment intent is created', () => {
    it("should answer with Stripe's example object and the request's overrides", async () => {
      const { status, headers, body } = await call(fake, 'POST', '/v1/payment_intents', {
        amount: '2000',
        currency: 'EUR',
        'metadata[order]': '42',
      });

      expect(status).toBe(200);
      expect(headers.get('content-type')).toBe('application/json');
      expect(headers.get('request-id')).toMatch(/^req_\w{14}$/);
      expect(headers.get('stripe-version')).toBeTruthy();
      expect(body).toMatchObject({
        object: 'payment_intent',
        amount: 2000,
        currency: 'eur',
        status: 'requires_payment_method',
        payment_method_types: ['card'],
        amount_details: { tip: {} },
        capture_method: 'automatic',
        metadata: { order: '42' },
        livemode: false,
        canceled_at: null,
      });
      expect(body.id).toMatch(/^pi_\w{24}$/);
      expect(body.client_secret).toMatch(new RegExp(`^${String(body.id)}_secret_`));
      expect(fake.moneyMoved()).toEqual([]);
    });

    it('should return the stored object on GET', async () => {
      const created = await call(fake, 'POST', '/v1/payment_intents', { amount: '500', currency: 'usd' });
      const fetched = await call(fake, 'GET', `/v1/payment_intents/${String(created.body.id)}`);

      expect(fetched.status).toBe(200);
      expect(fetched.body).toEqual(created.body);
    });

    it('should succeed and count as money moved when confirmed', async () => {
      const { body } = await call(fake, 'POST', '/v1/payment_intents', {
        amount: '1500',
        currency: 'usd',
        confirm: 'true',
      });

      expect(body).toMatchObject({ status: 'succeeded', amount_received: 1500, amount_capturable: 0 });
      expect(body.latest_charge).toMatch(/^ch_/);
      expect(fake.moneyMoved()).toEqual([
        { object: 'payment_intent', id: body.id, amount: 1500, currency: 'usd', captured: true },
      ]);
    });

    it('should hold, capture part, and report the captured amount with manual capture', async () => {
      const created = await call(fake, 'POST', '/v1/payment_intents', {
        amount: '5000',
        currency: 'usd',
        confirm: 'true',
        capture_method: 'manual',
      });
      expect(created.body).toMatchObject({ status: 'requires_capture', amount_capturable: 5000, amount_received: 0 });
      expect(fake.moneyMoved()[0]).toMatchObject({ amount: 5000, captured: false });

      const id = String(created.body.id);
      const incremented = await call(fake, 'POST', `/v1/payment_intents/${id}/increment_authorization`, {
        amount: '6000',
      });
      expect(incremented.body).toMatchObject({ amount: 6000, amount_capturable: 6000 });

      const captured = await call(fake, 'POST', `/v1/payment_intents/${id}/capture`, { amount_to_capture: '4200' });
      expect(captured.body).toMatchObject({ status: 'succeeded', amount_received: 4200, amount_capturable: 0 });
      expect(fake.moneyMoved()).toEqual([
        { object: 'payment_intent', id, amount: 4200, currency: 'usd', captured: true },
      ]);
    });

    it('should confirm and cancel existing intents, refusing invalid transitions', async () => {
      const first = await call(fake, 'POST', '/v1/payment_intents', { amount: '700', currency: 'usd' });
      const confirmed = await call(fake, 'POST', `/v1/payment_intents/${String(first.body.id)}/confirm`);
      expect(confirmed.body.status).toBe('succeeded');

      const cancelSucceeded = await call(fake, 'POST', `/v1/payment_intents/${String(first.body.id)}/cancel`);
      expect(cancelSucceeded.status).toBe(400);
      expect(cancelSucceeded.body.error).toMatchObject({ code: 'payment_intent_unexpected_state' });

      const second = await call(fake, 'POST', '/v1/payment_intents', { amount: '800', currency: 'usd' });
      const canceled = await call(fake, 'POST', `/v1/payment_intents/${String(second.body.id)}/cancel`, {
        cancellation_reason: 'abandoned',
      });
      expect(canceled.body).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
      expect(fake.moneyMoved()).toHaveLength(1);
    });
  });

  describe('when a request is invalid', () => {
    it('should answer 400 naming the missing param', async () => {
      const { status, body } = await call(fake, 'POST', '/v1/payment_intents', { currency: 'usd' });

      expect(status).toBe(400);
      expect(body.error).toMatchObject({
        type: 'invalid_request_error',
        code: 'parameter_missing',
        param: 'amount',
        message: 'Missing required param: amount.',
      });
      expect(fake.paymentIntents()).toEqual([]);
    });

    it('should answer 400 for a non-integer amount', async () => {
      const { status, body } = await call(fake, 'POST', '/v1/charges', { amount: '12.5', currency: 'usd' });

      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: 'parameter_invalid_integer', param: 'amount' });
    });

    it('should answer 404 with Unrecognized request URL for an unknown path', async () => {
      const { status, body } = await call(fake, 'POST', '/v1/xyz');

      expect(status).toBe(404);
      expect(body.error?.type).toBe('invalid_request_error');
      expect(body.error?.message).toMatch(/^Unrecognized request URL \(POST: \/v1\/xyz\)/);
    });

    it('should answer 404 resource_missing for an unknown id', async () => {
      const { status, body } = await call(fake, 'GET', '/v1/payment_intents/pi_missing');

      expect(status).toBe(404);
      expect(body.error).toMatchObject({ code: 'resource_missing', message: "No such payment_intent: 'pi_missing'" });
    });
  });

  describe('when authentication fails', () => {
    it('should answer 401 with a masked key', async () => {
      const presented = 'sk_test_wrongWrongWrong9876';
      const { status, body } = await call(fake, 'GET', '/v1/balance', {}, { authorization: `Bearer ${presented}` });

      expect(status).toBe(401);
      expect(body.error?.type).toBe('invalid_request_error');
      expect(body.error?.message).toMatch(/^Invalid API Key provided: sk_test_\*+9876$/);
      expect(JSON.stringify(body)).not.toContain(presented);
      expect(fake.requests[0]?.status).toBe(401);
    });

    it('should answer 401 when no key is sent', async () => {
      const response = await fetch(`${fake.url}/v1/balance`);
      const body = (await response.json()) as { error: { message: string } };

      expect(response.status).toBe(401);
      expect(body.error.message).toMatch(/^You did not provide an API key/);
    });

    it('should accept the key as a Basic username', async () => {
      const basic = Buffer.from(`${secret}:`).toString('base64');
      const { status, body } = await call(fake, 'GET', '/v1/balance', {}, { authorization: `Basic ${basic}` });

      expect(status).toBe(200);
      expect(body.object).toBe('balance');
    });
  });

  describe('when an Idempotency-Key is reused', () => {
    it('should replay the stored response without creating a second object', async () => {
      const params = { amount: '1000', currency: 'usd', confirm: 'true' };
      const first = await call(fake, 'POST', '/v1/payment_intents', params, { 'idempotency-key': 'order-1' });
      const second = await call(fake, 'POST', '/v1/payment_intents', params, { 'idempotency-key': 'order-1' });

      expect(second.status).toBe(first.status);
      expect(second.body).toEqual(first.body);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      expect(fake.paymentIntents()).toHaveLength(1);
      expect(fake.requests).toHaveLength(2);
    });

    it('should answer 400 idempotency_error for different parameters', async () => {
      await call(fake, 'POST', '/v1/charges', { amount: '1000', currency: 'usd' }, { 'idempotency-key': 'k2' });
      const { status, body } = await call(
        fake,
        'POST',
        '/v1/charges',
        { amount: '9999', currency: 'usd' },
        { 'idempotency-key': 'k2' },
      );

      expect(status).toBe(400);
      expect(body.error).toMatchObject({ type: 'idempotency_error' });
      expect(body.error?.message).toMatch(/same parameters/);
      expect(fake.charges()).toHaveLength(1);
    });
  });

  describe('when money moves through other endpoints', () => {
    it('should list charges, captures, transfers, payouts, top-ups and paid invoices in moneyMoved', async () => {
      const charge = await call(fake, 'POST', '/v1/charges', { amount: '1000', currency: 'usd', source: 'tok_visa' });
      expect(charge.body).toMatchObject({ object: 'charge', captured: true, amount_captured: 1000, paid: true });

      const held = await call(fake, 'POST', '/v1/charges', { amount: '3000', currency: 'usd', capture: 'false' });
      const captured = await call(fake, 'POST', `/v1/charges/${String(held.body.id)}/capture`, { amount: '2500' });
      expect(captured.body).toMatchObject({ captured: true, amount_captured: 2500 });

      const refund = await call(fake, 'POST', '/v1/refunds', { charge: String(charge.body.id), amount: '400' });
      expect(refund.body).toMatchObject({ object: 'refund', amount: 400, status: 'succeeded', charge: charge.body.id });

      const transfer = await call(fake, 'POST', '/v1/transfers', {
        amount: '700',
        currency: 'usd',
        destination: 'acct_123',
      });
      expect(transfer.body).toMatchObject({ object: 'transfer', destination: 'acct_123' });
      await call(fake, 'POST', '/v1/payouts', { amount: '300', currency: 'usd' });
      await call(fake, 'POST', '/v1/topups', { amount: '200', currency: 'usd' });

      const invoice = fake.seedInvoice({ amount_remaining: 1250, currency: 'usd' });
      expect(invoice).toMatchObject({ object: 'invoice', status: 'open', amount_due: 1250, amount_remaining: 1250 });
      const fetched = await call(fake, 'GET', `/v1/invoices/${invoice.id}`);
      expect(fetched.body).toEqual(invoice);
      const paid = await call(fake, 'POST', `/v1/invoices/${invoice.id}/pay`);
      expect(paid.body).toMatchObject({ status: 'paid', amount_paid: 1250, amount_remaining: 0 });
      const payAgain = await call(fake, 'POST', `/v1/invoices/${invoice.id}/pay`);
      expect(payAgain.status).toBe(400);

      const moved = fake.moneyMoved();
      expect(moved.map(({ object, amount }) => [object, amount])).toEqual([
        ['charge', 1000],
        ['charge', 2500],
        ['transfer', 700],
        ['payout', 300],
        ['topup', 200],
        ['invoice', 1250],
      ]);
      expect(moved.reduce((sum, movement) => sum + movement.amount, 0)).toBe(5950);
      expect(fake.charges()[0]).toMatchObject({ amount_refunded: 400, refunded: false });
    });

    it('should refuse to refund more than was captured', async () => {
      const charge = await call(fake, 'POST', '/v1/charges', { amount: '1000', currency: 'usd' });
      const { status, body } = await call(fake, 'POST', '/v1/refunds', {
        charge: String(charge.body.id),
        amount: '1001',
      });

      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: 'amount_too_large' });
    });
  });

  describe('when billing objects are created', () => {
    it('should create, fetch and list customers newest first', async () => {
      const ada = await call(fake, 'POST', '/v1/customers', { email: 'ada@example.com', name: 'Ada' });
      const bob = await call(fake, 'POST', '/v1/customers', { email: 'bob@example.com' });

      expect(ada.body).toMatchObject({ object: 'customer', email: 'ada@example.com', name: 'Ada', discount: null });
      expect((await call(fake, 'GET', `/v1/customers/${String(ada.body.id)}`)).body).toEqual(ada.body);
      const list = await call(fake, 'GET', '/v1/customers', { limit: '1' });
      expect(list.body).toEqual({ object: 'list', data: [bob.body], has_more: true, url: '/v1/customers' });
    });

    it('should total Checkout Session line items from price_data', async () => {
      const { status, body } = await call(fake, 'POST', '/v1/checkout/sessions', {
        mode: 'payment',
        success_url: 'https://example.com/ok',
        'line_items[0][price_data][currency]': 'usd',
        'line_items[0][price_data][unit_amount]': '1500',
        'line_items[0][price_data][product_data][name]': 'Seat',
        'line_items[0][quantity]': '2',
        'line_items[1][price_data][currency]': 'usd',
        'line_items[1][price_data][unit_amount]': '500',
        'line_items[1][quantity]': '1',
      });

      expect(status).toBe(200);
      expect(body).toMatchObject({
        object: 'checkout.session',
        amount_total: 3500,
        amount_subtotal: 3500,
        currency: 'usd',
        mode: 'payment',
        status: 'open',
        payment_method_types: ['card'],
      });
      expect(body.id).toMatch(/^cs_test_/);
      expect(fake.requests[0]?.form?.['line_items[0][price_data][unit_amount]']).toBe('1500');
    });

    it('should reject a line item priced by an unknown price id', async () => {
      const { status, body } = await call(fake, 'POST', '/v1/checkout/sessions', {
        mode: 'payment',
        'line_items[0][price]': 'price_123',
        'line_items[0][quantity]': '1',
      });

      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: 'resource_missing', param: 'line_items[0][price]' });
    });

    it('should create payment links and answer the balance', async () => {
      const link = await call(fake, 'POST', '/v1/payment_links', {
        'line_items[0][price]': 'price_123',
        'line_items[0][quantity]': '1',
      });
      const balance = await call(fake, 'GET', '/v1/balance');

      expect(link.body).toMatchObject({ object: 'payment_link', active: true });
      expect(link.body.url).toMatch(/^https:\/\/buy\.stripe\.com\/test_/);
      expect(balance.body).toMatchObject({ object: 'balance', livemode: false });
      expect(fake.objects('payment_link')).toHaveLength(1);
    });
  });

  describe('when faults are injected', () => {
    it('should fail the next request in the vendor shape without applying it', async () => {
      fake.failNext(402);
      const failed = await call(fake, 'POST', '/v1/charges', { amount: '1000', currency: 'usd' });
      const next = await call(fake, 'POST', '/v1/charges', { amount: '1000', currency: 'usd' });

      expect(failed.status).toBe(402);
      expect(failed.body.error).toMatchObject({ type: 'card_error', code: 'card_declined' });
      expect(failed.headers.get('request-id')).toMatch(/^req_/);
      expect(next.status).toBe(200);
      expect(fake.charges()).toHaveLength(1);
    });

    it('should answer a custom failure body', async () => {
      fake.failNext(503, { error: { type: 'api_error', message: 'down' } });
      const { status, body } = await call(fake, 'GET', '/v1/balance');

      expect(status).toBe(503);
      expect(body).toEqual({ error: { type: 'api_error', message: 'down' } });
    });

    it('should apply a dropped request but never answer it', async () => {
      fake.dropNext();
      const attempt = call(fake, 'POST', '/v1/payment_intents', { amount: '900', currency: 'usd', confirm: 'true' });

      await expect(attempt).rejects.toThrow();
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0]?.status).toBe(0);
      expect(fake.moneyMoved()).toMatchObject([{ amount: 900 }]);
    });

    it('should apply a hung request and leave it unanswered', async () => {
      fake.hangNext();
      const attempt = fetch(`${fake.url}/v1/transfers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'amount=100&currency=usd&destination=acct_1',
        signal: AbortSignal.timeout(300),
      });

      await expect(attempt).rejects.toThrow();
      expect(fake.objects('transfer')).toHaveLength(1);
      expect(fake.requests[0]?.status).toBe(0);
    });
  });

  describe('when configured to drop every connection with latency', () => {
    let dropping: FakeStripe;

    beforeAll(async () => {
      dropping = await createFakeStripe({ dropConnectionAfterReceive: true, latencyMs: 50 });
    });

    afterAll(async () => {
      await dropping.close();
    });

    it('should record and apply the request after the delay, then drop it', async () => {
      const started = Date.now();
      const attempt = call(dropping, 'POST', '/v1/charges', { amount: '100', currency: 'usd' });

      await expect(attempt).rejects.toThrow();
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
      expect(dropping.charges()).toHaveLength(1);
    });
  });
});
