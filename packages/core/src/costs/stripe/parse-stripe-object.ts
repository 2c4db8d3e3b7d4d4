import { z } from 'zod';

// Every field is optional and tolerant: a missing, null or mistyped field reads as `undefined`
// (Stripe's `payment_record.amount` is an object, for instance), so parsing never throws.
const minor = z.number().int().nullish().catch(undefined);
const text = z.string().nullish().catch(undefined);
const flag = z.boolean().nullish().catch(undefined);

const stripeObjectSchema = z.object({
  id: text,
  object: text,
  status: text,
  currency: text,
  amount: minor,
  amount_received: minor,
  amount_capturable: minor,
  amount_total: minor,
  amount_remaining: minor,
  amount_paid: minor,
  amount_due: minor,
  captured: flag,
  paid: flag,
});

/**
 * The money fields of any Stripe API object, as read by {@link parseStripeObject}. Amounts are
 * integers in the currency's minor unit (cents, yen, fils); any field Stripe did not send, sent as
 * `null` or sent with another type is `undefined`.
 */
export interface StripeObject {
  /** Object id: `pi_…`, `ch_…`, `in_…`. */
  id: string | undefined;
  /** Object type: `payment_intent`, `charge`, `checkout.session`. */
  object: string | undefined;
  /** Lifecycle status: `succeeded`, `requires_capture`, `paid`, `failed`. */
  status: string | undefined;
  /** Lower-case ISO 4217 currency. */
  currency: string | undefined;
  /** `amount` (PaymentIntent, Charge, Transfer, Payout, Topup, Refund). */
  amount: number | undefined;
  /** PaymentIntent `amount_received`. */
  amountReceived: number | undefined;
  /** PaymentIntent `amount_capturable`. */
  amountCapturable: number | undefined;
  /** Checkout Session `amount_total`. */
  amountTotal: number | undefined;
  /** Invoice `amount_remaining`. */
  amountRemaining: number | undefined;
  /** Invoice `amount_paid`. */
  amountPaid: number | undefined;
  /** Invoice `amount_due`. */
  amountDue: number | undefined;
  /** Charge `captured`. */
  captured: boolean | undefined;
  /** Charge or Invoice `paid`. */
  paid: boolean | undefined;
}

/**
 * Reads the money fields of a Stripe API object (a response body or a looked-up resource),
 * tolerantly: it never throws, and a field that is missing or malformed is `undefined`.
 *
 * @param json - A parsed Stripe response body.
 * @returns The fields, or `undefined` if `json` is not a JSON object.
 * @example
 * ```ts
 * parseStripeObject({ object: 'payment_intent', amount: 1099, currency: 'usd', status: 'succeeded' });
 * // { object: 'payment_intent', amount: 1099, currency: 'usd', status: 'succeeded', amountReceived: undefined, … }
 * ```
 */
export function parseStripeObject(json: unknown): StripeObject | undefined {
  const parsed = stripeObjectSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const data = parsed.data;
  return {
    id: data.id ?? undefined,
    object: data.object ?? undefined,
    status: data.status ?? undefined,
    currency: data.currency?.toLowerCase() ?? undefined,
    amount: data.amount ?? undefined,
    amountReceived: data.amount_received ?? undefined,
    amountCapturable: data.amount_capturable ?? undefined,
    amountTotal: data.amount_total ?? undefined,
    amountRemaining: data.amount_remaining ?? undefined,
    amountPaid: data.amount_paid ?? undefined,
    amountDue: data.amount_due ?? undefined,
    captured: data.captured ?? undefined,
    paid: data.paid ?? undefined,
  };
}
