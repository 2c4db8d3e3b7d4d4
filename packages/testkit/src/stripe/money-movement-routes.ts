import { numberField, stripeId } from './create-stripe-store.js';
import { stripeError } from './stripe-error.js';
import { type StripeObject, stripeFixture } from './stripe-fixture.js';
import {
  booleanParam,
  currencyParam,
  integerParam,
  metadataParam,
  optionalParam,
  requiredParam,
} from './stripe-params.js';
import type { StripeRoute, StripeRouteContext } from './stripe-route.js';

const day = 24 * 60 * 60;

function createCharge({ form, store, now }: StripeRouteContext): StripeObject {
  const amount = integerParam(form, 'amount', { required: true, min: 1 });
  const currency = currencyParam(form);
  const capture = booleanParam(form, 'capture') ?? true;
  const id = stripeId('ch');
  return store.insert({
    ...stripeFixture('charge'),
    id,
    object: 'charge',
    amount,
    amount_captured: capture ? amount : 0,
    amount_refunded: 0,
    balance_transaction: capture ? stripeId('txn') : null,
    captured: capture,
    created: now,
    currency,
    customer: optionalParam(form, 'customer'),
    description: optionalParam(form, 'description'),
    metadata: metadataParam(form),
    payment_intent: null,
    receipt_email: optionalParam(form, 'receipt_email'),
    refunded: false,
    refunds: { object: 'list', data: [], has_more: false, url: `/v1/charges/${id}/refunds` },
    source: null,
    status: 'succeeded',
    transfer_data: null,
    transfer_group: optionalParam(form, 'transfer_group'),
  });
}

function captureCharge({ params, form, store }: StripeRouteContext): StripeObject {
  const charge = store.require('charge', params.id ?? '');
  if (charge.captured === true) {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: 'charge_already_captured',
      message: `Charge ${charge.id} has already been captured.`,
    });
  }
  const authorized = numberField(charge, 'amount');
  const amount = integerParam(form, 'amount', { min: 1 }) ?? authorized;
  if (amount > authorized) {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: 'amount_too_large',
      message: `You cannot capture more than the authorized amount of ${authorized}.`,
      param: 'amount',
    });
  }
  charge.captured = true;
  charge.amount_captured = amount;
  charge.balance_transaction = stripeId('txn');
  return charge;
}

function refundable(form: Record<string, string>, context: StripeRouteContext): { target: StripeObject; left: number } {
  const { store } = context;
  const chargeId = optionalParam(form, 'charge');
  const intentId = optionalParam(form, 'payment_intent');
  if (chargeId) {
    const charge = store.require('charge', chargeId, 'charge');
    return { target: charge, left: numberField(charge, 'amount_captured') - numberField(charge, 'amount_refunded') };
  }
  if (intentId) {
    const intent = store.require('payment_intent', intentId, 'payment_intent');
    if (intent.status !== 'succeeded') {
      throw stripeError(400, {
        type: 'invalid_request_error',
        code: 'charge_not_refundable',
        message: `This PaymentIntent (${intent.id}) does not have a successful charge to refund.`,
        param: 'payment_intent',
      });
    }
    const refunded = store
      .list('refund')
      .filter((refund) => refund.payment_intent === intent.id)
      .reduce((sum, refund) => sum + numberField(refund, 'amount'), 0);
    return { target: intent, left: numberField(intent, 'amount_received') - refunded };
  }
  throw stripeError(400, {
    type: 'invalid_request_error',
    message: 'One of the following params should be provided for this request: payment_intent or charge.',
  });
}

function createRefund(context: StripeRouteContext): StripeObject {
  const { form, store, now } = context;
  const { target, left } = refundable(form, context);
  const amount = integerParam(form, 'amount', { min: 1 }) ?? left;
  if (amount > left || left <= 0) {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: left <= 0 ? 'charge_already_refunded' : 'amount_too_large',
      message:
        left <= 0
          ? `Charge ${target.id} has already been refunded.`
          : `Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`,
      param: left <= 0 ? undefined : 'amount',
    });
  }
  if (target.object === 'charge') {
    target.amount_refunded = numberField(target, 'amount_refunded') + amount;
    target.refunded = target.amount_refunded === target.amount_captured;
  }
  return store.insert({
    ...stripeFixture('refund'),
    id: stripeId('re'),
    object: 'refund',
    amount,
    balance_transaction: stripeId('txn'),
    charge: target.object === 'charge' ? target.id : target.latest_charge,
    created: now,
    currency: target.currency,
    metadata: metadataParam(form),
    payment_intent: target.object === 'payment_intent' ? target.id : target.payment_intent,
    reason: optionalParam(form, 'reason'),
    status: 'succeeded',
  });
}

function createTransfer({ form, store, now }: StripeRouteContext): StripeObject {
  const amount = integerParam(form, 'amount', { required: true, min: 1 });
  const currency = currencyParam(form);
  const destination = requiredParam(form, 'destination');
  const id = stripeId('tr');
  return store.insert({
    ...stripeFixture('transfer'),
    id,
    object: 'transfer',
    amount,
    balance_transaction: stripeId('txn'),
    created: now,
    currency,
    description: optionalParam(form, 'description'),
    destination,
    destination_payment: stripeId('py', 14),
    metadata: metadataParam(form),
    reversals: { object: 'list', data: [], has_more: false, url: `/v1/transfers/${id}/reversals` },
    source_transaction: optionalParam(form, 'source_transaction'),
    transfer_group: optionalParam(form, 'transfer_group'),
  });
}

function createPayout({ form, store, now }: StripeRouteContext): StripeObject {
  const amount = integerParam(form, 'amount', { required: true, min: 1 });
  const currency = currencyParam(form);
  const fixture = stripeFixture('payout');
  return store.insert({
    ...fixture,
    id: stripeId('po'),
    object: 'payout',
    amount,
    arrival_date: now + 2 * day,
    automatic: false,
    balance_transaction: stripeId('txn'),
    created: now,
    currency,
    description: optionalParam(form, 'description'),
    destination: optionalParam(form, 'destination') ?? fixture.destination,
    metadata: metadataParam(form),
    method: optionalParam(form, 'method') ?? 'standard',
    statement_descriptor: optionalParam(form, 'statement_descriptor'),
    status: 'pending',
  });
}

function createTopup({ form, store, now }: StripeRouteContext): StripeObject {
  const amount = integerParam(form, 'amount', { required: true, min: 1 });
  const currency = currencyParam(form);
  return store.insert({
    ...stripeFixture('topup'),
    id: stripeId('tu'),
    object: 'topup',
    amount,
    balance_transaction: null,
    created: now,
    currency,
    description: optionalParam(form, 'description'),
    expected_availability_date: now + 5 * day,
    metadata: metadataParam(form),
    statement_descriptor: optionalParam(form, 'statement_descriptor'),
    status: 'pending',
    transfer_group: optionalParam(form, 'transfer_group'),
  });
}

/**
 * Fake Stripe routes that move money: charges (create, capture), refunds, transfers, payouts and top-ups.
 *
 * @example
 * ```ts
 * const router = createRouter([...moneyMovementRoutes]);
 * ```
 */
export const moneyMovementRoutes: readonly StripeRoute[] = [
  { method: 'POST', pattern: '/v1/charges', handler: createCharge },
  {
    method: 'GET',
    pattern: '/v1/charges/:id',
    handler: ({ params, store }) => store.require('charge', params.id ?? ''),
  },
  { method: 'POST', pattern: '/v1/charges/:id/capture', handler: captureCharge },
  { method: 'POST', pattern: '/v1/refunds', handler: createRefund },
  {
    method: 'GET',
    pattern: '/v1/refunds/:id',
    handler: ({ params, store }) => store.require('refund', params.id ?? ''),
  },
  { method: 'POST', pattern: '/v1/transfers', handler: createTransfer },
  {
    method: 'GET',
    pattern: '/v1/transfers/:id',
    handler: ({ params, store }) => store.require('transfer', params.id ?? ''),
  },
  { method: 'POST', pattern: '/v1/payouts', handler: createPayout },
  {
    method: 'GET',
    pattern: '/v1/payouts/:id',
    handler: ({ params, store }) => store.require('payout', params.id ?? ''),
  },
  { method: 'POST', pattern: '/v1/topups', handler: createTopup },
  { method: 'GET', pattern: '/v1/topups/:id', handler: ({ params, store }) => store.require('topup', params.id ?? '') },
];
