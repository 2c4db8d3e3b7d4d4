// Every field is optional and tolerant: a missing, null or mistyped field reads as `undefined`
// (Stripe's `payment_record.amount` is an object, for instance), so reading never throws. Read by
// hand rather than through a schema: this runs on every settled Stripe call.
const minor = (value: unknown): number | undefined => (Number.isSafeInteger(value) ? (value as number) : undefined);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const flag = (value: unknown): boolean | undefined => (typeof value === 'boolean' ? value : undefined);

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
  /** Charge `amount_refunded` (cumulative). */
  amountRefunded: number | undefined;
  /** Charge `captured`. */
  captured: boolean | undefined;
  /** Charge or Invoice `paid`. */
  paid: boolean | undefined;
  /** Issuing Authorization `approved`. */
  approved: boolean | undefined;
  /** Invoice `paid_out_of_band` (API versions before 2025-03-31.basil): marked paid outside Stripe. */
  paidOutOfBand: boolean | undefined;
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
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const data = json as Record<string, unknown>;
  return {
    id: text(data.id),
    object: text(data.object),
    status: text(data.status),
    currency: text(data.currency)?.toLowerCase(),
    amount: minor(data.amount),
    amountReceived: minor(data.amount_received),
    amountCapturable: minor(data.amount_capturable),
    amountTotal: minor(data.amount_total),
    amountRemaining: minor(data.amount_remaining),
    amountPaid: minor(data.amount_paid),
    amountDue: minor(data.amount_due),
    amountRefunded: minor(data.amount_refunded),
    captured: flag(data.captured),
    paid: flag(data.paid),
    approved: flag(data.approved),
    paidOutOfBand: flag(data.paid_out_of_band),
  };
}
