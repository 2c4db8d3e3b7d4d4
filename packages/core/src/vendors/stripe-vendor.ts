import { createStripeCostModel, type StripeCostOptions } from '../costs/stripe/stripe-cost-model.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import type { VendorDefinition, VendorErrorResponse } from './vendor-definition.js';

const SECRET_PATTERN = /^(sk|rk)_(test|live)_[A-Za-z0-9]+$/;

/**
 * The Stripe vendor: `https://api.stripe.com`, authorised with `Authorization: Bearer <secret key>`,
 * priced by {@link createStripeCostModel}. Denials are answered in Stripe's error shape so that
 * stripe-node raises its own error class for the status (`StripeRateLimitError` for a cap,
 * `StripePermissionError` for an endpoint or unknown cost, `StripeAuthenticationError` for a bad
 * key) with `code` = the Keybrake code, and never retries them (`Stripe-Should-Retry: false`).
 *
 * @param options - Cost-model options; see {@link StripeCostOptions}.
 * @returns The vendor definition; its secret is a secret key (`sk_…`) or restricted key (`rk_…`).
 * @example
 * ```ts
 * const vault = createVault({ vendors: { stripe: stripeVendor({ creditRefunds: true }) }, secrets: { stripe: 'sk_test_…' } });
 * ```
 */
export function stripeVendor(options: StripeCostOptions = {}): VendorDefinition<string> {
  return {
    name: 'stripe',
    baseUrl: 'https://api.stripe.com',
    costModel: createStripeCostModel(options),
    requestIdHeader: 'request-id',
    honorsIdempotencyKey: true,
    // Stripe keeps idempotency keys per account: a Connect call on another account is a new call.
    idempotencyScopeHeaders: ['stripe-account', 'stripe-context'],
    // Its cost model settles an answer so marked at 0: the money moved with the original call.
    replayHeader: 'idempotent-replayed',
    parseSecret(secret) {
      if (typeof secret !== 'string' || !SECRET_PATTERN.test(secret)) {
        throw new InvalidPolicyError({
          message: 'Invalid Stripe secret: expected a secret key (sk_test_…, sk_live_…) or a restricted key (rk_…).',
        });
      }
      return secret;
    },
    authorize(request, secret) {
      request.headers.authorization = `Bearer ${secret}`;
      return { path: request.path };
    },
    refuse: refuseStripeCredentials,
    errorResponse: stripeErrorResponse,
  };
}

/**
 * Stripe endpoints a vault never forwards: those that answer with a token or link that acts on
 * Stripe directly, outside the vault — ephemeral keys (`/v1/ephemeral_keys`), meter event sessions
 * (`/v2/billing/meter_event_session`), Terminal connection tokens (`/v1/terminal/connection_tokens`,
 * with which a reader creates and confirms payments), Connect account sessions
 * (`/v1/account_sessions`, whose client secret runs embedded components such as payouts and
 * refunds) and Express dashboard login links (`/v1/accounts/{id}/login_links`) — and the Stripe
 * Apps secret store (`/v1/apps/secrets`), which holds other services' credentials. Matched in any
 * letter case.
 *
 * @returns Why the call is refused, or `undefined`.
 */
export function refuseStripeCredentials(_method: string, path: string): string | undefined {
  const segments = path.toLowerCase().split('/');
  if (segments[1] === 'v2')
    return segments[2] === 'billing' && segments[3] === 'meter_event_session'
      ? 'a Stripe meter event session answers with a token that calls Stripe directly'
      : undefined;
  if (segments[1] !== 'v1') return undefined;
  if (segments[2] === 'ephemeral_keys') return 'Stripe ephemeral keys are credentials';
  if (segments[2] === 'apps' && segments[3] === 'secrets') return 'the Stripe Apps secret store holds credentials';
  if (segments[2] === 'terminal' && segments[3] === 'connection_tokens')
    return 'a Stripe Terminal connection token lets a reader create and confirm payments directly';
  if (segments[2] === 'account_sessions')
    return "a Stripe account session's client secret runs payouts and refunds directly";
  if (segments[2] === 'accounts' && segments[4] === 'login_links')
    return "a Stripe login link opens a connected account's dashboard, payouts included, directly";
  return undefined;
}

/**
 * Renders a Keybrake denial as a Stripe API error. stripe-node maps the status to its error class
 * (429 → `StripeRateLimitError`, 403 → `StripePermissionError`, 401 → `StripeAuthenticationError`,
 * 400 → `StripeInvalidRequestError`, 5xx → `StripeAPIError`) and copies `code`, `message`,
 * `doc_url` and the raw body (with `keybrake`, the error's JSON) onto it. It retries 409, 5xx and
 * any answer with `Stripe-Should-Retry: true`, so a denial carries `Stripe-Should-Retry: false`
 * (and `x-should-retry: false` for Stainless-generated clients) unless the error is retryable.
 *
 * @param error - The denial.
 * @returns Status, headers and JSON body.
 * @example
 * ```ts
 * stripeErrorResponse(new CapExceededError({ … })).status; // 429
 * ```
 */
export function stripeErrorResponse(error: KeybrakeError): VendorErrorResponse {
  const retry = error.retryable ? 'true' : 'false';
  return {
    status: error.status,
    headers: { 'content-type': 'application/json', 'stripe-should-retry': retry, 'x-should-retry': retry },
    body: JSON.stringify({
      error: {
        type: error.status >= 500 ? 'api_error' : 'invalid_request_error',
        code: error.code,
        message: error.message,
        doc_url: `https://keybrake.dev/errors/${error.code}`,
        keybrake: error.toJSON(),
      },
    }),
  };
}
