import type { FakeUpstream, FakeUpstreamOptions, RecordedRequest } from '../fake-upstream.js';
import { createIdempotencyStore } from '../http/create-idempotency-store.js';
import { createRouter } from '../http/create-router.js';
import type { FakeResponse } from '../http/fake-response.js';
import { FakeResponseError } from '../http/fake-response-error.js';
import { parseAuthorization } from '../http/parse-authorization.js';
import { randomAlphanumeric } from '../http/random-id.js';
import { startFakeServer } from '../http/start-fake-server.js';
import { billingRoutes } from './billing-routes.js';
import { createStripeStore, numberField } from './create-stripe-store.js';
import { moneyMovementRoutes } from './money-movement-routes.js';
import { parseStripeForm } from './parse-stripe-form.js';
import { paymentIntentRoutes } from './payment-intent-routes.js';
import { type SeedInvoiceOptions, seedInvoice } from './seed-invoice.js';
import { defaultStripeFailure, maskStripeKey, stripeError } from './stripe-error.js';
import type { StripeObject, StripeObjectType } from './stripe-fixture.js';

/**
 * Options of {@link createFakeStripe}. `secret` is the API key requests must present (Bearer, or Basic username).
 *
 * @example
 * ```ts
 * const fake = await createFakeStripe({ secret: 'sk_test_123' });
 * ```
 */
export interface FakeStripeOptions extends FakeUpstreamOptions {
  /**
   * `stripe-version` response header when the request sends no `Stripe-Version` (otherwise it is echoed).
   * @default '2026-10-28.endive'
   */
  apiVersion?: string;
}

/**
 * One creation that moved (or, when `captured` is false, held) money, as the fake Stripe saw it.
 *
 * @example
 * ```ts
 * const total = fake.moneyMoved().reduce((sum, movement) => sum + movement.amount, 0);
 * ```
 */
export interface StripeMoneyMovement {
  /** Object type. */
  object: 'payment_intent' | 'charge' | 'transfer' | 'payout' | 'topup' | 'invoice';
  /** Object id. */
  id: string;
  /** Minor units moved: received for payment intents, captured for charges, paid for invoices; held when not captured. */
  amount: number;
  /** Lower-case currency code. */
  currency: string;
  /** `false` for an authorization that is held but not captured yet. */
  captured: boolean;
}

/**
 * A running fake Stripe API.
 *
 * @example
 * ```ts
 * const fake = await createFakeStripe();
 * const stripe = new Stripe('sk_test_x', { host: fake.host, port: fake.port, protocol: 'http' });
 * ```
 */
export interface FakeStripe extends FakeUpstream {
  /**
   * Created objects of a type, oldest first (deep copies).
   *
   * @param type - Object type, e.g. `payment_intent`, `charge`, `checkout.session`.
   */
  objects(type: StripeObjectType): StripeObject[];
  /** Created payment intents, oldest first. */
  paymentIntents(): StripeObject[];
  /** Created charges, oldest first. */
  charges(): StripeObject[];
  /** Money-moving creations (confirmed or captured payment intents, charges, transfers, payouts, top-ups, paid invoices). */
  moneyMoved(): StripeMoneyMovement[];
  /**
   * Stores an invoice to be retrieved and paid.
   *
   * @param options - Amount remaining and currency.
   * @returns The invoice object.
   */
  seedInvoice(options: SeedInvoiceOptions): StripeObject;
}

const router = createRouter([...paymentIntentRoutes, ...moneyMovementRoutes, ...billingRoutes]);

function movement(object: StripeObject): StripeMoneyMovement | undefined {
  const base = { id: object.id, currency: String(object.currency) };
  switch (object.object) {
    case 'payment_intent':
      if (object.status === 'succeeded') {
        return { ...base, object: 'payment_intent', amount: numberField(object, 'amount_received'), captured: true };
      }
      if (object.status === 'requires_capture') {
        return { ...base, object: 'payment_intent', amount: numberField(object, 'amount_capturable'), captured: false };
      }
      return undefined;
    case 'charge':
      return object.captured === true
        ? { ...base, object: 'charge', amount: numberField(object, 'amount_captured'), captured: true }
        : { ...base, object: 'charge', amount: numberField(object, 'amount'), captured: false };
    case 'transfer':
    case 'payout':
    case 'topup':
      return { ...base, object: object.object, amount: numberField(object, 'amount'), captured: true };
    case 'invoice':
      return object.status === 'paid'
        ? { ...base, object: 'invoice', amount: numberField(object, 'amount_paid'), captured: true }
        : undefined;
    default:
      return undefined;
  }
}

function authenticate(request: RecordedRequest, secret: string | undefined): void {
  if (secret === undefined) return;
  const credentials = parseAuthorization(request.headers.authorization);
  const presented = credentials?.scheme === 'basic' ? credentials.username : credentials?.token;
  if (presented === secret) return;
  const message = presented
    ? `Invalid API Key provided: ${maskStripeKey(presented)}`
    : "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";
  const error = stripeError(401, { type: 'invalid_request_error', message });
  error.response.headers = { 'www-authenticate': 'Basic realm="Stripe"' };
  throw error;
}

/** Stripe takes parameters from the query string of any request, and from a write's body (which wins). */
function paramsOf(request: RecordedRequest): Record<string, string> {
  const query = parseStripeForm(new URL(request.path, 'http://fake.invalid').search.slice(1));
  if (request.method === 'GET' || request.method === 'DELETE') return query;
  return { ...query, ...(request.form ?? parseStripeForm(request.body)) };
}

/**
 * Starts a loopback fake of the Stripe API that answers with Stripe's own example objects (overridden from the
 * request), keeps what it created, replays `Idempotency-Key` retries and records every request.
 *
 * @param options - Listen, auth, latency and fault options.
 * @returns The running fake; call `close()` when done.
 * @throws When the server cannot listen.
 * @example
 * ```ts
 * const fake = await createFakeStripe({ secret: 'sk_test_123' });
 * const response = await fetch(`${fake.url}/v1/payment_intents`, {
 *   method: 'POST',
 *   headers: { authorization: 'Bearer sk_test_123', 'content-type': 'application/x-www-form-urlencoded' },
 *   body: 'amount=2000&currency=usd&confirm=true',
 * });
 * fake.moneyMoved(); // [{ object: 'payment_intent', amount: 2000, currency: 'usd', captured: true, id: 'pi_...' }]
 * await fake.close();
 * ```
 */
export async function createFakeStripe(options: FakeStripeOptions = {}): Promise<FakeStripe> {
  const { secret, apiVersion = '2026-10-28.endive' } = options;
  const store = createStripeStore();
  const idempotency = createIdempotencyStore();

  function handle(request: RecordedRequest): FakeResponse {
    const headers: Record<string, string> = {
      'request-id': `req_${randomAlphanumeric(14)}`,
      'stripe-version': request.headers['stripe-version'] ?? apiVersion,
    };
    try {
      authenticate(request, secret);
      const match = router.match(request.method, request.pathname);
      if (!match) {
        throw stripeError(404, {
          type: 'invalid_request_error',
          message: `Unrecognized request URL (${request.method}: ${request.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        });
      }
      const form = paramsOf(request);
      const key = request.method === 'POST' ? request.headers['idempotency-key'] : undefined;
      const endpoint = `${request.method} ${request.pathname}`;
      const payload = JSON.stringify(Object.entries(form).sort(([a], [b]) => (a < b ? -1 : 1)));
      // Each account keeps its own keys: a Connect call on another account (`Stripe-Account`) is new.
      const scopedKey = key && `${request.headers['stripe-account'] ?? ''}\u0000${key}`;
      if (key && scopedKey) {
        headers['idempotency-key'] = key;
        const found = idempotency.lookup({ key: scopedKey, endpoint, payload });
        if (found.kind === 'replay') {
          return { ...found.response, headers: { ...found.response.headers, 'idempotent-replayed': 'true' } };
        }
        if (found.kind !== 'miss') {
          const message =
            found.kind === 'endpoint-mismatch'
              ? `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${found.endpoint}' vs '${endpoint}'). Try using a key other than '${key}' if you meant to execute a different request.`
              : `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`;
          throw stripeError(400, { type: 'idempotency_error', message });
        }
      }
      const now = Math.floor(Date.now() / 1000);
      const body = structuredClone(match.handler({ params: match.params, form, store, now }));
      const response: FakeResponse = { status: 200, body, headers };
      if (scopedKey) idempotency.save({ key: scopedKey, endpoint, payload, response });
      return response;
    } catch (error) {
      if (!(error instanceof FakeResponseError)) throw error;
      return { ...error.response, headers: { ...headers, ...error.response.headers } };
    }
  }

  const upstream = await startFakeServer({
    ...options,
    vendor: {
      handle,
      failure: (status, body, detail) => ({
        status,
        body: body ?? defaultStripeFailure(status, detail),
        headers: { 'request-id': `req_${randomAlphanumeric(14)}`, 'stripe-version': apiVersion },
      }),
      reset: () => {
        store.clear();
        idempotency.clear();
      },
    },
  });

  return Object.assign(upstream, {
    objects: (type: StripeObjectType) => structuredClone(store.list(type)),
    paymentIntents: () => structuredClone(store.list('payment_intent')),
    charges: () => structuredClone(store.list('charge')),
    moneyMoved: () => store.all().flatMap((object) => movement(object) ?? []),
    seedInvoice: (invoice: SeedInvoiceOptions) =>
      structuredClone(seedInvoice(store, invoice, Math.floor(Date.now() / 1000))),
  });
}
