import stripeObjects from '../__fixtures__/stripe-objects.json' with { type: 'json' };

/**
 * A Stripe API object: at least an `id` and an `object` type, plus whatever fields Stripe's example object has.
 *
 * @example
 * ```ts
 * const intent: StripeObject = fake.paymentIntents()[0]!;
 * intent.object; // 'payment_intent'
 * ```
 */
export type StripeObject = { id: string; object: string } & Record<string, unknown>;

/**
 * The Stripe object types the fake answers with (copied from Stripe's OpenAPI example objects).
 *
 * @example
 * ```ts
 * const type: StripeObjectType = 'payment_intent';
 * ```
 */
export type StripeObjectType =
  | 'balance'
  | 'charge'
  | 'checkout.session'
  | 'customer'
  | 'invoice'
  | 'payment_intent'
  | 'payment_link'
  | 'payout'
  | 'refund'
  | 'topup'
  | 'transfer';

const resources: Record<StripeObjectType, Record<string, unknown>> = stripeObjects.resources;

/**
 * A fresh deep copy of Stripe's example object for a type, to be overridden from a request.
 *
 * @param type - Object type, e.g. `payment_intent`.
 * @returns A mutable copy of the example object.
 * @example
 * ```ts
 * const intent = { ...stripeFixture('payment_intent'), id: 'pi_123', amount: 500 };
 * ```
 */
export function stripeFixture(type: StripeObjectType): Record<string, unknown> {
  return structuredClone(resources[type]);
}
