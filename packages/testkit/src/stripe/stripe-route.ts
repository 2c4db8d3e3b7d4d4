import type { Route } from '../http/create-router.js';
import type { StripeStore } from './create-stripe-store.js';

/**
 * What a fake Stripe route handler gets.
 *
 * @example
 * ```ts
 * const handler: StripeRouteHandler = ({ params, store }) => store.require('customer', params.id ?? '');
 * ```
 */
export interface StripeRouteContext {
  /** Path parameters, e.g. `id`. */
  params: Record<string, string>;
  /** Form body (POST) or query (GET) parameters, flat bracketed keys. */
  form: Record<string, string>;
  /** The fake's object store. */
  store: StripeStore;
  /** Current Unix time in seconds, for `created` fields. */
  now: number;
}

/**
 * A fake Stripe route handler: returns the JSON object to answer with (status 200), or throws a Stripe error.
 *
 * @example
 * ```ts
 * const getBalance: StripeRouteHandler = () => stripeFixture('balance');
 * ```
 */
export type StripeRouteHandler = (context: StripeRouteContext) => Record<string, unknown>;

/**
 * A fake Stripe route.
 *
 * @example
 * ```ts
 * const route: StripeRoute = { method: 'GET', pattern: '/v1/balance', handler: () => stripeFixture('balance') };
 * ```
 */
export type StripeRoute = Route<StripeRouteHandler>;
