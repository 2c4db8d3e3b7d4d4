import { randomAlphanumeric } from '../http/random-id.js';
import { numberField, stripeId } from './create-stripe-store.js';
import { stripeError } from './stripe-error.js';
import { type StripeObject, stripeFixture } from './stripe-fixture.js';
import {
  booleanParam,
  currencyParam,
  indexedParams,
  integerParam,
  metadataParam,
  optionalParam,
} from './stripe-params.js';
import type { StripeRoute, StripeRouteContext } from './stripe-route.js';

const confirmable = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const cancelable = [...confirmable, 'requires_capture', 'processing'];

function unexpectedState(intent: StripeObject, action: string, allowed: string[]): never {
  throw stripeError(400, {
    type: 'invalid_request_error',
    code: 'payment_intent_unexpected_state',
    message:
      `You cannot ${action} this PaymentIntent because it has a status of ${String(intent.status)}. ` +
      `Only a PaymentIntent with one of the following statuses may be ${action === 'capture' ? 'captured' : `${action}ed`}: ${allowed.join(', ')}.`,
  });
}

function confirm(intent: StripeObject, form: Record<string, string>): void {
  intent.payment_method = optionalParam(form, 'payment_method') ?? intent.payment_method ?? stripeId('pm');
  intent.latest_charge = stripeId('ch');
  const amount = numberField(intent, 'amount');
  if (intent.capture_method === 'manual') {
    intent.status = 'requires_capture';
    intent.amount_capturable = amount;
  } else {
    intent.status = 'succeeded';
    intent.amount_received = amount;
  }
}

function createPaymentIntent({ form, store, now }: StripeRouteContext): StripeObject {
  const amount = integerParam(form, 'amount', { required: true, min: 1 });
  const currency = currencyParam(form);
  const captureMethod = optionalParam(form, 'capture_method') ?? 'automatic';
  if (!['automatic', 'automatic_async', 'manual'].includes(captureMethod)) {
    throw stripeError(400, {
      type: 'invalid_request_error',
      message: `Invalid capture_method: must be one of automatic, automatic_async, or manual`,
      param: 'capture_method',
    });
  }
  const id = stripeId('pi');
  const types = indexedParams(form, 'payment_method_types').map((item) => item[''] ?? '');
  const fixture = stripeFixture('payment_intent');
  const intent: StripeObject = {
    ...fixture,
    id,
    object: 'payment_intent',
    amount,
    amount_capturable: 0,
    amount_received: 0,
    canceled_at: null,
    capture_method: captureMethod,
    client_secret: `${id}_secret_${randomAlphanumeric(25)}`,
    created: now,
    currency,
    customer: optionalParam(form, 'customer'),
    description: optionalParam(form, 'description'),
    last_payment_error: null,
    latest_charge: null,
    metadata: metadataParam(form),
    next_action: null,
    payment_method: optionalParam(form, 'payment_method'),
    payment_method_types: types.length > 0 ? types : fixture.payment_method_types,
    processing: null,
    receipt_email: optionalParam(form, 'receipt_email'),
    shipping: null,
    status: 'requires_payment_method',
    transfer_data: null,
  };
  if (booleanParam(form, 'confirm')) confirm(intent, form);
  return store.insert(intent);
}

function confirmPaymentIntent({ params, form, store }: StripeRouteContext): StripeObject {
  const intent = store.require('payment_intent', params.id ?? '');
  if (!confirmable.includes(String(intent.status))) unexpectedState(intent, 'confirm', confirmable);
  confirm(intent, form);
  return intent;
}

function capturePaymentIntent({ params, form, store }: StripeRouteContext): StripeObject {
  const intent = store.require('payment_intent', params.id ?? '');
  if (intent.status !== 'requires_capture') unexpectedState(intent, 'capture', ['requires_capture']);
  const capturable = numberField(intent, 'amount_capturable');
  const amount = integerParam(form, 'amount_to_capture', { min: 1 }) ?? capturable;
  if (amount > capturable) {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: 'amount_too_large',
      message: `The amount to capture (${amount}) must be less than or equal to the amount capturable (${capturable}).`,
      param: 'amount_to_capture',
    });
  }
  intent.amount_received = amount;
  intent.amount_capturable = 0;
  intent.status = 'succeeded';
  return intent;
}

function incrementAuthorization({ params, form, store }: StripeRouteContext): StripeObject {
  const intent = store.require('payment_intent', params.id ?? '');
  if (intent.status !== 'requires_capture') unexpectedState(intent, 'increment', ['requires_capture']);
  const amount = integerParam(form, 'amount', { required: true, min: numberField(intent, 'amount') });
  intent.amount = amount;
  intent.amount_capturable = amount;
  return intent;
}

function cancelPaymentIntent({ params, form, store, now }: StripeRouteContext): StripeObject {
  const intent = store.require('payment_intent', params.id ?? '');
  if (!cancelable.includes(String(intent.status))) unexpectedState(intent, 'cancel', cancelable);
  intent.status = 'canceled';
  intent.canceled_at = now;
  intent.cancellation_reason = optionalParam(form, 'cancellation_reason');
  intent.amount_capturable = 0;
  return intent;
}

/**
 * Fake Stripe PaymentIntent routes: create (optionally confirmed, automatic or manual capture), retrieve, confirm,
 * capture, increment_authorization and cancel.
 *
 * @example
 * ```ts
 * const router = createRouter([...paymentIntentRoutes]);
 * ```
 */
export const paymentIntentRoutes: readonly StripeRoute[] = [
  { method: 'POST', pattern: '/v1/payment_intents', handler: createPaymentIntent },
  {
    method: 'GET',
    pattern: '/v1/payment_intents/:id',
    handler: ({ params, store }) => store.require('payment_intent', params.id ?? ''),
  },
  { method: 'POST', pattern: '/v1/payment_intents/:id/confirm', handler: confirmPaymentIntent },
  { method: 'POST', pattern: '/v1/payment_intents/:id/capture', handler: capturePaymentIntent },
  { method: 'POST', pattern: '/v1/payment_intents/:id/increment_authorization', handler: incrementAuthorization },
  { method: 'POST', pattern: '/v1/payment_intents/:id/cancel', handler: cancelPaymentIntent },
];
