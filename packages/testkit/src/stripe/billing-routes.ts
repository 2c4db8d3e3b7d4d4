import { randomAlphanumeric } from '../http/random-id.js';
import { numberField, stripeId } from './create-stripe-store.js';
import { stripeError } from './stripe-error.js';
import { type StripeObject, stripeFixture } from './stripe-fixture.js';
import { indexedParams, integerParam, metadataParam, optionalParam, requiredParam } from './stripe-params.js';
import type { StripeRoute, StripeRouteContext } from './stripe-route.js';

function createCustomer({ form, store, now }: StripeRouteContext): StripeObject {
  return store.insert({
    ...stripeFixture('customer'),
    id: stripeId('cus', 14),
    object: 'customer',
    created: now,
    currency: null,
    description: optionalParam(form, 'description'),
    discount: null,
    email: optionalParam(form, 'email'),
    invoice_prefix: randomAlphanumeric(8).toUpperCase(),
    metadata: metadataParam(form),
    name: optionalParam(form, 'name'),
    phone: optionalParam(form, 'phone'),
    shipping: null,
  });
}

function listCustomers({ form, store }: StripeRouteContext): Record<string, unknown> {
  const limit = integerParam(form, 'limit', { min: 1 }) ?? 10;
  const email = optionalParam(form, 'email');
  const all = store
    .list('customer')
    .filter((customer) => email === null || customer.email === email)
    .reverse();
  const after = optionalParam(form, 'starting_after');
  const start = after ? all.findIndex((customer) => customer.id === after) + 1 : 0;
  const data = all.slice(start, start + Math.min(limit, 100));
  return { object: 'list', data, has_more: start + data.length < all.length, url: '/v1/customers' };
}

function payInvoice({ params, store, now }: StripeRouteContext): StripeObject {
  const invoice = store.require('invoice', params.id ?? '', undefined);
  if (invoice.status === 'paid') {
    throw stripeError(400, { type: 'invalid_request_error', message: 'Invoice is already paid' });
  }
  if (invoice.status !== 'open' && invoice.status !== 'draft') {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: 'invoice_not_editable',
      message: `You can only pay an invoice that is open; this invoice is ${String(invoice.status)}.`,
    });
  }
  const transitions = (invoice.status_transitions ?? {}) as Record<string, unknown>;
  invoice.amount_paid = numberField(invoice, 'amount_paid') + numberField(invoice, 'amount_remaining');
  invoice.amount_remaining = 0;
  invoice.attempt_count = numberField(invoice, 'attempt_count') + 1;
  invoice.attempted = true;
  invoice.status = 'paid';
  invoice.status_transitions = { ...transitions, finalized_at: transitions.finalized_at ?? now, paid_at: now };
  return invoice;
}

interface PricedItems {
  amount: number;
  currency: string | null;
}

function priceLineItems(form: Record<string, string>, required: boolean): PricedItems {
  const items = indexedParams(form, 'line_items');
  if (items.length === 0 && required) {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: 'parameter_missing',
      message: 'Missing required param: line_items.',
      param: 'line_items',
    });
  }
  let amount = 0;
  let currency: string | null = optionalParam(form, 'currency');
  items.forEach((item, index) => {
    const price = optionalParam(item, 'price');
    if (price) {
      throw stripeError(400, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        message: `No such price: '${price}'`,
        param: `line_items[${index}][price]`,
      });
    }
    const unit = integerParam(item, 'price_data[unit_amount]', { required: true, min: 0 });
    const quantity = integerParam(item, 'quantity', { min: 1 }) ?? 1;
    amount += unit * quantity;
    currency = currency ?? optionalParam(item, 'price_data[currency]')?.toLowerCase() ?? null;
  });
  return { amount, currency };
}

function createCheckoutSession({ form, store, now }: StripeRouteContext): StripeObject {
  const mode = requiredParam(form, 'mode');
  const { amount, currency } = priceLineItems(form, mode !== 'setup');
  const id = stripeId('cs_test', 58);
  return store.insert({
    ...stripeFixture('checkout.session'),
    id,
    object: 'checkout.session',
    after_expiration: null,
    amount_subtotal: amount,
    amount_total: amount,
    cancel_url: optionalParam(form, 'cancel_url'),
    client_reference_id: optionalParam(form, 'client_reference_id'),
    collected_information: null,
    created: now,
    currency,
    currency_conversion: null,
    customer: optionalParam(form, 'customer'),
    customer_details: null,
    customer_email: optionalParam(form, 'customer_email'),
    expires_at: now + 24 * 60 * 60,
    metadata: metadataParam(form),
    mode,
    payment_intent: null,
    payment_status: 'unpaid',
    shipping_address_collection: null,
    shipping_cost: null,
    status: 'open',
    success_url: optionalParam(form, 'success_url'),
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    url: `https://checkout.stripe.com/c/pay/${id}`,
  });
}

function createPaymentLink({ form, store }: StripeRouteContext): StripeObject {
  const items = indexedParams(form, 'line_items');
  if (items.length === 0) {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: 'parameter_missing',
      message: 'Missing required param: line_items.',
      param: 'line_items',
    });
  }
  const currency = items.map((item) => optionalParam(item, 'price_data[currency]')).find((value) => value !== null);
  return store.insert({
    ...stripeFixture('payment_link'),
    id: stripeId('plink'),
    object: 'payment_link',
    currency: currency?.toLowerCase() ?? 'usd',
    metadata: metadataParam(form),
    transfer_data: null,
    url: `https://buy.stripe.com/test_${randomAlphanumeric(20)}`,
  });
}

/**
 * Fake Stripe routes for customers, invoices (retrieve and pay seeded ones), Checkout Sessions, Payment Links and
 * the balance.
 *
 * @example
 * ```ts
 * const router = createRouter([...billingRoutes]);
 * ```
 */
export const billingRoutes: readonly StripeRoute[] = [
  { method: 'POST', pattern: '/v1/customers', handler: createCustomer },
  { method: 'GET', pattern: '/v1/customers', handler: listCustomers },
  {
    method: 'GET',
    pattern: '/v1/customers/:id',
    handler: ({ params, store }) => store.require('customer', params.id ?? ''),
  },
  {
    method: 'GET',
    pattern: '/v1/invoices/:id',
    handler: ({ params, store }) => store.require('invoice', params.id ?? ''),
  },
  { method: 'POST', pattern: '/v1/invoices/:id/pay', handler: payInvoice },
  { method: 'POST', pattern: '/v1/checkout/sessions', handler: createCheckoutSession },
  {
    method: 'GET',
    pattern: '/v1/checkout/sessions/:id',
    handler: ({ params, store }) => store.require('checkout.session', params.id ?? ''),
  },
  { method: 'POST', pattern: '/v1/payment_links', handler: createPaymentLink },
  { method: 'GET', pattern: '/v1/balance', handler: () => stripeFixture('balance') },
];
