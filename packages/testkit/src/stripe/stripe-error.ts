import type { FakeResponse } from '../http/fake-response.js';
import { FakeResponseError } from '../http/fake-response-error.js';

/**
 * The fields of a Stripe error object (`{"error": {...}}`).
 *
 * @example
 * ```ts
 * const fields: StripeErrorFields = { type: 'invalid_request_error', message: 'Missing required param: amount.' };
 * ```
 */
export interface StripeErrorFields {
  /** Stripe's error type. */
  type: 'invalid_request_error' | 'api_error' | 'card_error' | 'idempotency_error';
  /** Human-readable message, worded like Stripe's. */
  message: string;
  /** Machine-readable code, e.g. `parameter_missing`; adds a `doc_url`. */
  code?: string;
  /** The parameter at fault. */
  param?: string;
  /** Card decline reason for `card_error`s. */
  decline_code?: string;
}

/**
 * Builds Stripe's error body.
 *
 * @param fields - The error fields.
 * @returns `{ error: { ... } }` with a `doc_url` when there is a code.
 * @example
 * ```ts
 * stripeErrorBody({ type: 'api_error', message: 'An unknown error occurred' });
 * ```
 */
export function stripeErrorBody(fields: StripeErrorFields): { error: Record<string, string> } {
  const error: Record<string, string> = {};
  if (fields.code) {
    error.code = fields.code;
    error.doc_url = `https://stripe.com/docs/error-codes/${fields.code.replaceAll('_', '-')}`;
  }
  if (fields.decline_code) error.decline_code = fields.decline_code;
  error.message = fields.message;
  if (fields.param) error.param = fields.param;
  error.type = fields.type;
  return { error };
}

/**
 * Builds a throwable Stripe error response.
 *
 * @param status - HTTP status.
 * @param fields - The error fields.
 * @returns An error to `throw` from a route handler.
 * @example
 * ```ts
 * throw stripeError(400, { type: 'invalid_request_error', message: 'Missing required param: amount.', param: 'amount' });
 * ```
 */
export function stripeError(status: number, fields: StripeErrorFields): FakeResponseError {
  const response: FakeResponse = { status, body: stripeErrorBody(fields) };
  return new FakeResponseError(response);
}

/**
 * The body Stripe answers for a failure injected with `failNext(status)`.
 *
 * @param status - HTTP status.
 * @param detail - Extra detail for the message.
 * @returns A Stripe error body matching the status.
 * @example
 * ```ts
 * defaultStripeFailure(402); // a card_declined card_error
 * ```
 */
export function defaultStripeFailure(status: number, detail?: string): { error: Record<string, string> } {
  if (status === 402) {
    return stripeErrorBody({
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'generic_decline',
      message: 'Your card was declined.',
    });
  }
  if (status === 429) {
    return stripeErrorBody({
      type: 'invalid_request_error',
      code: 'rate_limit',
      message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
    });
  }
  if (status >= 500) {
    const message = 'An unknown error occurred';
    return stripeErrorBody({ type: 'api_error', message: detail ? `${message}: ${detail}` : message });
  }
  return stripeErrorBody({ type: 'invalid_request_error', message: detail ?? `Request failed with status ${status}` });
}

/**
 * Masks an API key the way Stripe does in its "Invalid API Key" message: the `sk_test_` style prefix and the last
 * four characters stay, everything else becomes `*`.
 *
 * @param key - The presented key.
 * @returns The masked key.
 * @example
 * ```ts
 * maskStripeKey('sk_test_51Hxyzabcd'); // 'sk_test_******abcd'
 * ```
 */
export function maskStripeKey(key: string): string {
  const prefix = /^[a-z]{2,4}_(?:test_|live_)?/.exec(key)?.[0] ?? '';
  const rest = key.slice(prefix.length);
  if (rest.length <= 4) return prefix + '*'.repeat(rest.length);
  return prefix + '*'.repeat(rest.length - 4) + rest.slice(-4);
}
