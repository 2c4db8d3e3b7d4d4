import { InvalidPolicyError } from '../../errors/invalid-policy-error.js';
import { KeybrakeError } from '../../errors/keybrake-error.js';
import type { MicroUsd } from '../../money/micro-usd.js';
import { type EndpointPattern, matchesEndpoint, parseEndpointPattern } from '../../paths/endpoint-matcher.js';
import type { CostContext, CostEstimate, CostModel, CostRequest, CostSettlement } from '../cost-model.js';
import { notFormEncoded } from '../not-form-encoded.js';
import { estimateStripeLineItems, parseMinorInteger, type StripePrice } from './estimate-stripe-line-items.js';
import { parseStripeObject, type StripeObject } from './parse-stripe-object.js';

/** Options of {@link createStripeCostModel}. */
export interface StripeCostOptions {
  /**
   * Prices known ahead of time, by Price id, so that `line_items[n][price]` of a Checkout Session
   * or Payment Link is priced without reading the Price from Stripe.
   * @default {} (every Price is looked up with `GET /v1/prices/:id`)
   * @example { price_123: { unitAmount: 2000, currency: 'usd' } }
   */
  prices?: Readonly<Record<string, StripePrice>>;
  /**
   * Credit refunds (and transfer reversals) back to the key: a successful `POST /v1/refunds`
   * settles to a negative amount equal to the refund, freeing that much of the lifetime cap (a
   * daily cap is never reopened by a credit). Off by default,
   * because Keybrake cannot tell whether the refunded payment was counted by the same key.
   * @default false
   */
  creditRefunds?: boolean;
  /**
   * More endpoints that cost nothing, as allow-list patterns (`*` is one path segment, `**` any
   * depth). Every POST/DELETE that is neither here, nor in the built-in zero-cost table, nor a
   * priced money endpoint is `unknown` (denied unless the key's policy sets a fallback estimate).
   * @default []
   * @example ['POST /v1/webhook_endpoints', 'DELETE /v1/webhook_endpoints/*']
   */
  zeroCostEndpoints?: readonly string[];
}

type Method = 'POST' | 'DELETE';

/** Everything a route handler may need. */
interface RouteInput {
  request: CostRequest;
  form: Record<string, string>;
  context: CostContext;
  /** The `:id` segments of the path, in order. */
  ids: string[];
}

interface EstimateInput extends RouteInput {
  /**
   * Looks up a Stripe object (`undefined` if it cannot be read) and keeps it for the settlement,
   * which cannot look anything up: see {@link SettleInput.lookedUp}.
   */
  lookup(path: string): Promise<StripeObject | undefined>;
}

interface SettleInput extends RouteInput {
  /** The parsed 2xx response object. */
  object: StripeObject | undefined;
  estimate: CostEstimate;
  /**
   * The object the estimate last read with {@link EstimateInput.lookup} (an invoice before its
   * payment; for a retry answered with a replay, after the original's), or `undefined`: none read,
   * or not this model's estimate of this very request.
   */
  lookedUp: StripeObject | undefined;
}

interface RouteHandler {
  /** Whether money can move: a 5xx answer keeps the estimate (outcome unknown) instead of settling to 0. */
  moneyMoving: boolean;
  estimate(input: EstimateInput): CostEstimate | Promise<CostEstimate>;
  settle(input: SettleInput): CostSettlement;
}

interface Route {
  method: Method;
  segments: string[];
  handler: RouteHandler;
}

const known = (micros: MicroUsd, note?: string): { kind: 'known'; micros: MicroUsd; note?: string } =>
  note === undefined ? { kind: 'known', micros } : { kind: 'known', micros, note };

/** The settlement equal to the estimate: a 2xx answer means the estimated money moved. */
function keepEstimate(estimate: CostEstimate, note?: string): CostSettlement {
  if (estimate.kind === 'unknown') return estimate;
  return known(estimate.micros, note ?? estimate.note);
}

/**
 * The oldest `Stripe-Version` whose parameters this model reads: a money call pinned to an older
 * one (`shipping_rates` on Checkout, `account_balance` on Customers…) is `unknown`.
 */
const OLDEST_API_VERSION = '2022-08-01';
/** A `Stripe-Version` value: a date, an optional release name, optional `; beta=v1` flags. */
const STRIPE_VERSION = /^(\d{4}-\d{2}-\d{2})(?:\.[a-z]+)?(?:\s*;\s*[\w.-]+=[\w.-]+)*$/;

/**
 * Why a call's `Stripe-Version` is not one this model prices, or `undefined` (none sent, or one
 * it reads). The whole value, as Stripe writes them (`2025-03-31.basil`, `…; a_beta=v1`): two
 * values joined by a comma, or a date followed by anything else, may be read otherwise.
 */
function unpricedVersion(request: CostRequest): string | undefined {
  const version = request.header('stripe-version')?.trim();
  if (!version) return undefined;
  const date = STRIPE_VERSION.exec(version)?.[1];
  if (date !== undefined && date >= OLDEST_API_VERSION) return undefined;
  return `Stripe API version ${JSON.stringify(version.slice(0, 40))} is not one Keybrake prices (${OLDEST_API_VERSION} or later)`;
}

/**
 * PaymentIntent statuses Stripe does not confirm again: the money was counted when it was first
 * confirmed. (`requires_action` is not one: confirmed again with a new payment method, or an
 * `amount_to_confirm`, Stripe charges anew; it is priced like a first confirmation, so a genuine
 * second confirmation after 3-D Secure is counted twice — over, never under.)
 */
const CONFIRMED_INTENT_STATUSES = new Set(['processing', 'requires_capture', 'succeeded']);

/**
 * Creates the cost model of the Stripe API. Money is counted once, when the customer is committed:
 *
 * - PaymentIntents: at create with `confirm=true`, or at `/confirm` (the PaymentIntent's `amount`,
 *   or `amount_to_confirm`); create without confirm costs 0; `/capture` costs 0 unless
 *   `amount_to_capture` exceeds what was authorised; `/increment_authorization` costs the
 *   increase over the current amount. Confirming an already-confirmed PaymentIntent costs 0; one in
 *   `requires_action` is priced again. An update that changes the amount or currency is `unknown`.
 * - Charges: at create (also with `capture=false`); `/capture` costs 0.
 * - Transfers, Payouts, Topups: their `amount`. Invoices `/pay`: the invoice's `amount_remaining`.
 * - Checkout Sessions and Payment Links: their line items at their largest quantities.
 * - Refunds and transfer reversals cost 0, or a negative amount with `creditRefunds`.
 * - GET/HEAD and the built-in zero-cost table (customers, products, prices, setup intents, …) cost 0;
 *   every other POST/DELETE is `unknown` (fail closed).
 *
 * Settlement reads the response tolerantly: a 4xx settles to 0, a 5xx on a money call keeps the
 * estimate (Stripe may have processed it), a 2xx without a readable amount keeps the estimate, and
 * an idempotent replay (`Idempotent-Replayed: true`) settles to 0.
 *
 * @param options - Known prices, refund crediting, extra zero-cost endpoints.
 * @returns The {@link CostModel}; its `estimate` may throw `UnknownCurrencyError`.
 * @throws {InvalidPolicyError} if a `zeroCostEndpoints` pattern or a configured price is malformed.
 * @example
 * ```ts
 * const model = createStripeCostModel({ prices: { price_123: { unitAmount: 2000, currency: 'usd' } } });
 * await model.estimate(request, { fx: createFxTable(), lookup }); // { kind: 'known', micros: 20_000_000 }
 * ```
 */
export function createStripeCostModel(options: StripeCostOptions = {}): CostModel {
  const prices = validatePrices(options.prices ?? {});
  const creditRefunds = options.creditRefunds ?? false;
  const zeroCost: EndpointPattern[] = (options.zeroCostEndpoints ?? []).map((source) => parseEndpointPattern(source));
  const routes = buildRoutes({ prices, creditRefunds });
  /** Where this model's estimates carry what they read (see `estimate`). */
  const READ = Symbol('keybrake.stripe.read');
  type Carrying = { [READ]?: EstimateRead };

  return {
    async estimate(request, context) {
      const method = request.method.toUpperCase();
      // Read or written, raw card data is a credential that spends outside the vault.
      if (expandsCardSecrets(request)) {
        return {
          kind: 'unknown',
          reason: "an Issuing card's number and CVC (expand number, cvc) spend outside the vault: never forwarded",
          fallback: false,
        };
      }
      if (isReadMethod(method)) return known(0);
      if (zeroCost.some((pattern) => matchesEndpoint(pattern, method, request.path)))
        return known(0, 'zero-cost endpoint');
      const match = matchRoute(routes, method, request.path);
      if (!match) {
        // API v2 writes send, pull and charge money (money management's outbound payments and
        // payout intents, off-session payments, billing): a fallback estimate would let one such
        // call move any amount past a cap, and their answers (`pending`, `amount_requested`) do
        // not say what moved. One that moves none can be listed in `zeroCostEndpoints`.
        if (request.path.toLowerCase().startsWith('/v2/')) {
          return {
            kind: 'unknown',
            reason: `${method} ${request.path} may move money Keybrake cannot price (Stripe API v2)`,
            fallback: false,
          };
        }
        // Let through at a fallback estimate, but not pinned to an API version this model does not
        // read: an old one may answer otherwise (an account created under one returned its secret keys).
        const old = unpricedVersion(request);
        if (old) return { kind: 'unknown', reason: old, fallback: false };
        return {
          kind: 'unknown',
          reason: `${method} ${request.path} is not a Stripe endpoint Keybrake can price`,
        };
      }
      // A call whose parameters Stripe might read otherwise than this model is not priced: a guard
      // on a zero-cost route reads them too (a customer's balance, a Payment Link's line items).
      // Nor does a fallback estimate let it through: this model knows the endpoint, and what the
      // call costs depends on a reading it could not make (the update of a price's
      // `currency_options` behind a `;` is what a fallback must never pass). Official SDKs send
      // none of these.
      const form = checkedParams(request);
      if (typeof form === 'string') return { kind: 'unknown', reason: form, fallback: false };
      // Parameters and fields were renamed or removed over the years, and the caller's
      // `Stripe-Version` is passed on: an old version may charge on names this model never reads.
      if (match.route.handler.moneyMoving) {
        const old = unpricedVersion(request);
        if (old) return { kind: 'unknown', reason: old, fallback: false };
      }
      const read: EstimateRead = { request, form, match };
      const lookup = async (path: string) => {
        read.lookedUp = await lookupObject(context, path);
        return read.lookedUp;
      };
      const estimate = await match.route.handler.estimate({ request, form, context, ids: match.ids, lookup });
      // A plain copy (a handler's result may be shared) carrying what it read under this model's own
      // symbol, not enumerable: not in the estimate's JSON, logs or equality, and never read by
      // another model (whose routes and options may differ).
      return Object.defineProperty({ ...estimate }, READ, { value: read });
    },

    settle(request, response, estimate, context) {
      const method = request.method.toUpperCase();
      if (isReadMethod(method)) return known(0);
      if (response.header('idempotent-replayed') === 'true') {
        return known(0, 'idempotent replay: counted when first sent');
      }
      // The route and form the estimate read, not a second lookup and parse of the same request.
      const read = typeof estimate === 'object' && estimate !== null ? (estimate as Carrying)[READ] : undefined;
      const ours = read?.request === request ? read : undefined;
      const match = ours
        ? ours.match
        : zeroCost.some((pattern) => matchesEndpoint(pattern, method, request.path))
          ? undefined
          : matchRoute(routes, method, request.path);
      const moneyMoving = match?.route.handler.moneyMoving ?? true;
      if (response.status >= 500 && moneyMoving) {
        return keepEstimate(estimate, `Stripe answered ${response.status}: outcome unknown, estimate kept`);
      }
      if (response.status < 200 || response.status >= 300)
        return known(0, `Stripe answered ${response.status}: nothing moved`);
      if (!match) return keepEstimate(estimate);
      return match.route.handler.settle({
        request,
        form: ours?.form ?? paramsOf(request),
        context,
        ids: match.ids,
        object: parseStripeObject(response.json),
        estimate,
        lookedUp: ours?.lookedUp,
      });
    },
  };
}

/**
 * What an estimate read: the request (settled only with it), its checked form, its route and the
 * object its route looked up.
 */
interface EstimateRead {
  request: CostRequest;
  form: Record<string, string>;
  match: NonNullable<ReturnType<typeof matchRoute>>;
  lookedUp?: StripeObject | undefined;
}

/**
 * A write's parameters as {@link paramsOf} reads them, or why Stripe might read them otherwise:
 * a body that is not form-encoded (multipart, even behind a preamble; JSON), a raw `;` (an older
 * Rack splits parameters on it too), a parameter sent twice or in both the query and the body, or
 * a name not shaped `base[a][b]…` (see {@link oddName}). stripe-node sends none of these.
 */
function checkedParams(request: CostRequest): Record<string, string> | string {
  const notForm = notFormEncoded(request);
  if (notForm) return notForm;
  const body = request.bodyText;
  if (body.startsWith('--')) return 'a multipart body cannot be priced; send it form-encoded';
  // Raw, in the body or the query string (an encoded `%3B` is data: Rack splits before decoding).
  if (body.includes(';') || request.search.includes(';')) return SEMICOLON;
  // One pass builds the form (as `paramsOf` would) and checks every name on the way.
  const form: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const found = oddName(name) ?? (Object.hasOwn(form, name) && !name.endsWith('[]') ? twice(name) : undefined);
    if (found) return found;
    form[name] = value;
  }
  const query = request.query;
  if (query.size === 0) return form;
  const merged: Record<string, string> = {};
  for (const [name, value] of query) {
    const found = oddName(name) ?? (Object.hasOwn(merged, name) || Object.hasOwn(form, name) ? twice(name) : undefined);
    if (found) return found;
    merged[name] = value;
  }
  return Object.assign(merged, form);
}

const SEMICOLON = 'a ";" in its parameters can be read as a separator';
const twice = (name: string) => `the parameter ${JSON.stringify(name.slice(0, 40))} is sent twice`;

/**
 * A name shaped other than `base[a][b]…` (with `[]`), or starting with whitespace: an older Rack
 * reads such names otherwise — `[amount]` and `amount]` as `amount`, `line_items[0]quantity` and
 * `line_items[0][quantity]]` as `line_items[0][quantity]`, and it drops spaces after a separator
 * (`& amount` is `amount`) — so a value this model never read could be the one Stripe uses.
 */
const PLAIN_NAME = /^[^[\]\s][^[\]]*(?:\[[^[\]]*\])*$/;

function oddName(name: string): string | undefined {
  return PLAIN_NAME.test(name)
    ? undefined
    : `the parameter name ${JSON.stringify(name.slice(0, 40))} can be read otherwise`;
}

/**
 * A write's parameters as Stripe reads them: from the body and, like Rack, from the query string
 * too, so `POST /v1/payment_intents?confirm=true` is priced as confirming. Used for settling, once
 * `checkedParams` has let the call through (a name in both places made it `unknown`).
 */
function paramsOf(request: CostRequest): Record<string, string> {
  const form = request.form();
  const query = request.query;
  if (query.size === 0) return form;
  const merged: Record<string, string> = {};
  for (const [name, value] of query) merged[name] = value;
  return Object.assign(merged, form);
}

/**
 * Whether a call expands an Issuing card's `number` or `cvc` (`expand[]=number`, `data.card.cvc`
 * on a list of authorizations…): the only expandable fields of those names, raw card data.
 */
function expandsCardSecrets(request: CostRequest): boolean {
  if (!request.search.includes('expand') && !request.bodyText.includes('expand')) return false;
  const expands = (params: URLSearchParams) => {
    for (const [name, value] of params)
      if (name.toLowerCase().startsWith('expand') && /(?:^|\.)(?:number|cvc)$/i.test(value.trim())) return true;
    return false;
  };
  return expands(request.query) || expands(new URLSearchParams(request.bodyText));
}

function isReadMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

function validatePrices(prices: Readonly<Record<string, StripePrice>>): Readonly<Record<string, StripePrice>> {
  for (const [id, price] of Object.entries(prices)) {
    if (!Number.isSafeInteger(price.unitAmount) || price.unitAmount < 0 || !/^[a-z]{3}$/i.test(price.currency)) {
      throw new InvalidPolicyError({
        message: `Invalid Stripe price ${JSON.stringify(id)}: expected { unitAmount: <integer minor units>, currency: 'usd' }.`,
      });
    }
  }
  return prices;
}

function matchRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { route: Route; ids: string[] } | undefined {
  const segments = path.split('/').slice(1);
  // Literal segments in any letter case: should Stripe route `/v1/Payment_Intents` as it does the
  // lower-case path, a call priced as unknown would pass at a key's fallback estimate. Ids as sent.
  const lowered = path.toLowerCase();
  const literals = lowered === path ? segments : lowered.split('/').slice(1);
  for (const route of routes) {
    if (route.method !== method || route.segments.length !== segments.length) continue;
    const ids: string[] = [];
    let matched = true;
    for (let index = 0; index < segments.length && matched; index++) {
      const expected = route.segments[index];
      const actual = segments[index] ?? '';
      if (expected === ':id') {
        if (actual === '') matched = false;
        else ids.push(actual);
      } else if (expected !== literals[index]) {
        matched = false;
      }
    }
    if (matched) return { route, ids };
  }
  return undefined;
}

/**
 * Whether a looked-up invoice was still to be paid: `draft`, `open` or `uncollectible` (which
 * Stripe still lets be paid) with an amount remaining. Any other status, or none, is not.
 */
function payable(invoice: StripeObject | undefined): invoice is StripeObject {
  return (
    (invoice?.status === 'draft' || invoice?.status === 'open' || invoice?.status === 'uncollectible') &&
    invoice.amountRemaining !== undefined &&
    invoice.amountRemaining > 0
  );
}

/** Converts minor units to micro-dollars; in settlement, an unconvertible currency keeps the estimate. */
function settleAmount(
  context: CostContext,
  amountMinor: number | undefined,
  currency: string | undefined,
  estimate: CostEstimate,
  note: string,
): CostSettlement {
  if (amountMinor === undefined || currency === undefined || amountMinor < 0) {
    return keepEstimate(estimate, `${note}: no readable amount in the response, estimate kept`);
  }
  try {
    return known(context.fx.toMicroUsd(amountMinor, currency), note);
  } catch (error) {
    if (KeybrakeError.isInstance(error)) return keepEstimate(estimate, `${note}: ${error.code}, estimate kept`);
    throw error;
  }
}

/**
 * An Issuing authorization approved: Stripe pays the merchant what it approved (the form's `amount`
 * for a partial approval, else the pending request, which only a lookup would show). Not priced
 * beforehand (a fallback estimate lets it through); settled to at least the `amount` the approved
 * authorization reports, so a $100 approval on a $1 fallback counts $100.
 */
const issuingApprovalHandler: RouteHandler = {
  moneyMoving: true,
  estimate: () => ({
    kind: 'unknown',
    reason: 'an Issuing approval is priced by its answer (set a fallback estimate)',
  }),
  settle: ({ object, context, estimate }) => {
    if (object?.approved === false) return known(0, 'authorization not approved');
    const settled = settleAmount(context, object?.amount, object?.currency, estimate, 'authorization approved');
    return settled.kind === 'known' ? { ...settled, atLeast: true } : settled;
  },
};

/** Estimates `amount` + `currency` from the form. */
function formAmount(form: Record<string, string>, field: string, note: string, context: CostContext): CostEstimate {
  const amount = parseMinorInteger(form[field]);
  if (amount === undefined) return { kind: 'unknown', reason: `\`${field}\` is missing or not an integer` };
  const currency = form.currency;
  if (!currency) return { kind: 'unknown', reason: '`currency` is missing' };
  return known(context.fx.toMicroUsd(amount, currency), note);
}

function isConfirming(form: Record<string, string>): boolean {
  // Anything but an explicit false confirms (fail closed on spellings Stripe might accept).
  return form.confirm !== undefined && form.confirm !== 'false' && form.confirm !== '';
}

async function lookupObject(context: CostContext, path: string): Promise<StripeObject | undefined> {
  try {
    return parseStripeObject(await context.lookup(path));
  } catch {
    return undefined;
  }
}

/**
 * What a confirmed PaymentIntent commits the customer to, by status; `undefined` if unreadable. A
 * status that moved money with an amount of 0 contradicts itself: unreadable, not free.
 */
function committedIntentAmount(intent: StripeObject | undefined): number | undefined {
  switch (intent?.status) {
    case 'succeeded':
      return positive(intent.amountReceived ?? intent.amount);
    case 'requires_capture':
      return positive(intent.amountCapturable ?? intent.amount);
    case 'processing':
    case 'requires_action':
    case 'requires_confirmation':
      return intent.amount;
    case 'requires_payment_method':
    case 'canceled':
      return 0;
    default:
      return undefined;
  }
}

function positive(amount: number | undefined): number | undefined {
  return amount === 0 ? undefined : amount;
}

function settleConfirmedIntent(input: SettleInput, note: string): CostSettlement {
  const intent = input.object;
  const amount = committedIntentAmount(intent);
  if (amount === 0) return known(0, `PaymentIntent ${intent?.status}: nothing committed`);
  return settleAmount(input.context, amount, intent?.currency, input.estimate, note);
}

/**
 * An update of a priced object (a Payment Link, an open Checkout Session): free unless it changes
 * its items or shipping, which is denied, not even with a fallback — the object was priced when
 * created, and its payments would be charged at the new items.
 */
const itemsUpdateHandler = (label: string): RouteHandler => ({
  moneyMoving: false,
  estimate: ({ form }) => {
    const priced = Object.keys(form).find((key) => /^(line_items|optional_items|shipping_options)\[/.test(key));
    return priced === undefined
      ? known(0, `${label} updated`)
      : {
          kind: 'unknown',
          reason: `a ${label} update that changes ${priced.split('[')[0]} cannot be priced`,
          fallback: false,
        };
  },
  settle: ({ estimate }) => keepEstimate(estimate),
});

const zeroHandler = (note: string): RouteHandler => ({
  moneyMoving: false,
  estimate: () => known(0, note),
  settle: () => known(0, note),
});

/**
 * A call that costs nothing unless `risky` finds a parameter that makes Stripe move money (an
 * immediate invoice, a balance the next renewal charges): then it is `unknown`.
 */
const guardedZeroHandler = (
  note: string,
  risky: (form: Readonly<Record<string, string>>) => string | undefined,
  { fallback = true }: { fallback?: boolean } = {},
): RouteHandler => ({
  moneyMoving: true,
  estimate: ({ form }) => {
    const reason = risky(form);
    return reason === undefined ? known(0, note) : { kind: 'unknown', reason, ...(fallback ? {} : { fallback }) };
  },
  settle: ({ estimate }) => keepEstimate(estimate),
});

/**
 * Customer parameters that move no money. Any other may make Stripe charge — `balance` (the next
 * invoice collects it), a `source` (it retries past-due invoices), `cash_balance` — or did under
 * an older API version the caller may pin with `Stripe-Version` (`account_balance`, `plan`
 * subscribing at once): an allow-list, so a name Keybrake does not know is never free.
 */
const CUSTOMER_FREE_PARAMETERS = new Set([
  'address',
  'business_name',
  'default_source',
  'description',
  'email',
  'expand',
  'individual_name',
  'invoice_prefix',
  'invoice_settings',
  'metadata',
  'name',
  'next_invoice_sequence',
  'payment_method',
  'phone',
  'preferred_locales',
  'shipping',
  'tax',
  'tax_exempt',
  'tax_id_data',
  'test_clock',
  'validate',
]);

const customerMoneyParameters = (form: Readonly<Record<string, string>>): string | undefined => {
  const key = Object.keys(form).find((name) => !CUSTOMER_FREE_PARAMETERS.has(name.split('[', 1)[0] ?? name));
  return key === undefined
    ? undefined
    : `a customer call setting \`${key.slice(0, 40)}\` can make Stripe charge, so it cannot be priced`;
};

/** A create call that moves `amount` in `currency`, settled from the response's `amount`. */
const amountHandler = (label: string, failedStatuses: readonly string[] = []): RouteHandler => ({
  moneyMoving: true,
  estimate: ({ form, context }) => formAmount(form, 'amount', label, context),
  settle: (input) => {
    if (input.object?.status && failedStatuses.includes(input.object.status))
      return known(0, `${label} ${input.object.status}`);
    return settleAmount(input.context, input.object?.amount, input.object?.currency, input.estimate, label);
  },
});

/** A refund-like call: 0, or a credit of the refunded amount with `creditRefunds`. */
const creditHandler = (label: string, creditRefunds: boolean): RouteHandler => ({
  moneyMoving: false,
  estimate: () => known(0, creditRefunds ? `${label}: credited when it succeeds` : `${label}: not credited`),
  settle: ({ object, context }) => {
    if (!creditRefunds) return known(0, `${label}: not credited`);
    // Only a refund that went through is credited (a pending one may still fail; one that
    // requires action may never complete). A transfer reversal has no status: it is done.
    if (object?.status !== undefined && object.status !== 'succeeded')
      return known(0, `${label} ${object.status}: not credited`);
    if (object?.amount === undefined || !object.currency || object.amount <= 0)
      return known(0, `${label}: no readable amount`);
    try {
      // A negative amount rounds toward zero, so a credit is never larger than the refund.
      return known(context.fx.toMicroUsd(-object.amount, object.currency), `${label} credited`);
    } catch {
      return known(0, `${label}: currency ${object.currency} has no FX rate, not credited`);
    }
  },
});

/**
 * The legacy `POST /v1/charges/:id/refund`, which answers with the Charge (its full `amount`),
 * not the Refund: with `creditRefunds`, only an explicit `amount` is credited, at most the
 * Charge's cumulative `amount_refunded`, and nothing if that cannot be read.
 */
function legacyChargeRefundHandler(creditRefunds: boolean): RouteHandler {
  return {
    moneyMoving: false,
    estimate: () => known(0, creditRefunds ? 'refund: credited when it succeeds' : 'refund: not credited'),
    settle: ({ form, object, context }) => {
      if (!creditRefunds) return known(0, 'refund: not credited');
      const asked = form.amount === undefined ? undefined : parseMinorInteger(form.amount);
      if (asked === undefined || asked <= 0 || !object?.currency)
        return known(0, 'legacy charge refund without an amount: not credited');
      // Never more than the Charge says is refunded in all (`amount_refunded` is cumulative).
      if (object.amountRefunded === undefined)
        return known(0, 'legacy charge refund: amount_refunded unreadable, not credited');
      const amount = Math.min(asked, object.amountRefunded);
      if (amount <= 0) return known(0, 'legacy charge refund: nothing refunded, not credited');
      try {
        return known(context.fx.toMicroUsd(-amount, object.currency), 'refund credited');
      } catch {
        return known(0, `refund: currency ${object.currency} has no FX rate, not credited`);
      }
    },
  };
}

function lineItemsHandler(label: string, prices: Readonly<Record<string, StripePrice>>): RouteHandler {
  return {
    moneyMoving: true,
    estimate: ({ form, context }) => {
      if (form.mode === 'setup') return known(0, `${label} in setup mode`);
      // As creating a subscription (`POST /v1/subscriptions`): what it charges every period after
      // this call (or by usage, metered) is not this call's to estimate.
      if (form.mode === 'subscription') {
        return { kind: 'unknown', reason: `a ${label} in subscription mode charges every period: not priced` };
      }
      // Older ways to add to what the customer pays, which this model does not read.
      const legacy = Object.keys(form).find((name) => /^(shipping_rates|subscription_data\[items\])(\[|$)/.test(name));
      if (legacy) return { kind: 'unknown', reason: `\`${legacy.slice(0, 40)}\` (an older API's) is not priced` };
      return estimateStripeLineItems({ form, prices, context });
    },
    settle: (input) => {
      const { object, estimate, context } = input;
      // A session in setup mode answers `amount_total: null`, and keeps its estimate (0, or a fallback).
      if (object?.amountTotal === undefined || !object.currency) return keepEstimate(estimate);
      const total = settleAmount(context, object.amountTotal, object.currency, estimate, `${label} amount_total`);
      // Not priced (a fallback let it through): `amount_total` is only the least the session can
      // collect (quantities may still rise), so the vault counts the larger of it and the fallback.
      if (estimate.kind !== 'known') return total.kind === 'known' ? { ...total, atLeast: true } : estimate;
      // Quantities may still rise at checkout: settle to the larger of the two.
      if (estimate.kind === 'known' && total.kind === 'known' && estimate.micros >= total.micros)
        return keepEstimate(estimate);
      return total;
    },
  };
}

function buildRoutes({
  prices,
  creditRefunds,
}: {
  prices: Readonly<Record<string, StripePrice>>;
  creditRefunds: boolean;
}): Route[] {
  const table: Array<[Method, string, RouteHandler]> = [
    // PaymentIntents: counted once, when the customer is committed.
    [
      'POST',
      '/v1/payment_intents',
      {
        moneyMoving: true,
        estimate: ({ form, context }) =>
          isConfirming(form)
            ? formAmount(form, 'amount', 'PaymentIntent created and confirmed', context)
            : known(0, 'PaymentIntent created unconfirmed: counted when confirmed'),
        // From Stripe's answer, not the form: a form the estimate could not read (a fallback let it
        // through) may have confirmed it.
        settle: (input) =>
          input.object?.status === 'requires_payment_method' || input.object?.status === 'requires_confirmation'
            ? known(0, 'PaymentIntent created unconfirmed: counted when confirmed')
            : settleConfirmedIntent(input, 'PaymentIntent created and confirmed'),
      },
    ],
    [
      'POST',
      '/v1/payment_intents/:id/confirm',
      {
        moneyMoving: true,
        async estimate({ form, context, ids }) {
          const intent = await lookupObject(context, `/v1/payment_intents/${ids[0]}`);
          if (!intent?.status || !intent.currency) {
            return { kind: 'unknown', reason: `PaymentIntent ${ids[0]} could not be read to price its confirmation` };
          }
          if (CONFIRMED_INTENT_STATUSES.has(intent.status)) {
            return known(0, `PaymentIntent already ${intent.status}: counted when first confirmed`);
          }
          if (intent.status === 'canceled') return known(0, 'PaymentIntent canceled');
          const amount =
            form.amount_to_confirm === undefined ? intent.amount : parseMinorInteger(form.amount_to_confirm);
          if (amount === undefined)
            return { kind: 'unknown', reason: `PaymentIntent ${ids[0]} has no readable amount` };
          return known(context.fx.toMicroUsd(amount, intent.currency), 'PaymentIntent confirmed');
        },
        settle: (input) =>
          input.estimate.kind === 'known' && input.estimate.micros === 0
            ? keepEstimate(input.estimate)
            : settleConfirmedIntent(input, 'PaymentIntent confirmed'),
      },
    ],
    [
      'POST',
      '/v1/payment_intents/:id/capture',
      {
        moneyMoving: true,
        async estimate({ form, context, ids }) {
          if (form.amount_to_capture === undefined) return known(0, 'capture: counted when confirmed');
          const requested = parseMinorInteger(form.amount_to_capture);
          if (requested === undefined) return { kind: 'unknown', reason: '`amount_to_capture` is not an integer' };
          const intent = await lookupObject(context, `/v1/payment_intents/${ids[0]}`);
          if (!intent?.currency || intent.amountCapturable === undefined) {
            return { kind: 'unknown', reason: `PaymentIntent ${ids[0]} could not be read to price its capture` };
          }
          const extra = requested - intent.amountCapturable;
          if (extra <= 0) return known(0, 'capture within the authorised amount: counted when confirmed');
          return known(
            context.fx.toMicroUsd(extra, intent.currency),
            'capture above the authorised amount (overcapture)',
          );
        },
        settle: ({ estimate }) => keepEstimate(estimate),
      },
    ],
    [
      'POST',
      '/v1/payment_intents/:id/increment_authorization',
      {
        moneyMoving: true,
        async estimate({ form, context, ids }) {
          const total = parseMinorInteger(form.amount);
          if (total === undefined) return { kind: 'unknown', reason: '`amount` is missing or not an integer' };
          const intent = await lookupObject(context, `/v1/payment_intents/${ids[0]}`);
          if (!intent?.currency || intent.amount === undefined) {
            return { kind: 'unknown', reason: `PaymentIntent ${ids[0]} could not be read to price the increment` };
          }
          const increase = Math.max(0, total - intent.amount);
          return known(context.fx.toMicroUsd(increase, intent.currency), 'authorisation increased');
        },
        settle: ({ estimate }) => keepEstimate(estimate),
      },
    ],
    [
      'POST',
      '/v1/payment_intents/:id',
      // A confirmation is priced from the PaymentIntent as looked up just before it is sent: an
      // amount changed by an update racing it would be charged past the cap. Set the amount at
      // creation, or confirm with `amount_to_confirm`. Not even a fallback estimate lets it through:
      // what the update costs is what the confirmation then charges, whatever the fallback says.
      guardedZeroHandler(
        'PaymentIntent updated',
        (form) => {
          const key = Object.keys(form).find((name) => /^(amount|currency)(\[|$)/.test(name));
          return key === undefined
            ? undefined
            : `a PaymentIntent update setting \`${key}\` changes what its confirmation charges, so it cannot be priced`;
        },
        { fallback: false },
      ),
    ],
    ['POST', '/v1/payment_intents/:id/cancel', zeroHandler('PaymentIntent canceled')],

    // Charges: counted at create, authorised or captured.
    ['POST', '/v1/charges', amountHandler('charge', ['failed'])],
    ['POST', '/v1/charges/:id/capture', zeroHandler('charge capture: counted when created')],
    ['POST', '/v1/charges/:id', zeroHandler('charge updated')],

    ['POST', '/v1/transfers', amountHandler('transfer')],
    ['POST', '/v1/transfers/:id', zeroHandler('transfer updated')],
    ['POST', '/v1/payouts', amountHandler('payout', ['failed', 'canceled'])],
    ['POST', '/v1/payouts/:id', zeroHandler('payout updated')],
    ['POST', '/v1/payouts/:id/cancel', zeroHandler('payout canceled')],
    ['POST', '/v1/topups', amountHandler('top-up', ['failed', 'canceled'])],
    ['POST', '/v1/topups/:id', zeroHandler('top-up updated')],
    ['POST', '/v1/topups/:id/cancel', zeroHandler('top-up canceled')],
    ['POST', '/v1/issuing/authorizations/:id/approve', issuingApprovalHandler],
    // Treasury: money sent out of a financial account.
    ['POST', '/v1/treasury/outbound_payments', amountHandler('outbound payment', ['failed', 'canceled'])],
    ['POST', '/v1/treasury/outbound_payments/:id/cancel', zeroHandler('outbound payment canceled')],
    ['POST', '/v1/treasury/outbound_transfers', amountHandler('outbound transfer', ['failed', 'canceled'])],
    ['POST', '/v1/treasury/outbound_transfers/:id/cancel', zeroHandler('outbound transfer canceled')],

    [
      'POST',
      '/v1/invoices/:id/pay',
      {
        moneyMoving: true,
        async estimate({ form, context, ids, lookup }) {
          if (form.paid_out_of_band === 'true') return known(0, 'invoice marked paid out of band');
          const invoice = await lookup(`/v1/invoices/${ids[0]}`);
          if (!invoice?.currency || invoice.amountRemaining === undefined) {
            return { kind: 'unknown', reason: `invoice ${ids[0]} could not be read to price its payment` };
          }
          if (invoice.status === 'paid' || invoice.status === 'void')
            return known(0, `invoice already ${invoice.status}`);
          return known(context.fx.toMicroUsd(Math.max(0, invoice.amountRemaining), invoice.currency), 'invoice paid');
        },
        settle: ({ form, estimate, object, context, lookedUp }) => {
          // Marked paid outside Stripe, as asked: its `amount_paid` is the whole invoice, none of
          // which moved through Stripe. Invoices have not said so since 2025-03-31.basil (no
          // `paid_out_of_band` field), so the form decides; only an older API's explicit
          // `paid_out_of_band: false` says Stripe did not take it so, and the payment is counted.
          if (form.paid_out_of_band === 'true' && object?.paidOutOfBand !== false)
            return known(0, 'invoice marked paid out of band');
          // `amount_paid` counts every payment of the invoice, those before this call too (an
          // invoice takes several partial payments): this call paid its rise over the looked-up
          // invoice's. Only over an invoice still to be paid when looked up: one already paid was
          // paid by the call this answer replays (a retry's lookup comes after it) or by another,
          // and the whole `amount_paid` is counted. So too if the invoice cannot be read: over,
          // never under.
          const before = payable(lookedUp) && lookedUp.currency === object?.currency ? lookedUp.amountPaid : undefined;
          const amountPaid =
            object?.amountPaid === undefined || before === undefined ? object?.amountPaid : object.amountPaid - before;
          // The invoice may have grown since it was looked up (finalised, a balance added):
          // the larger of the estimate and what the answer says this call paid.
          const paid = settleAmount(context, amountPaid, object?.currency, estimate, 'invoice paid');
          if (estimate.kind !== 'known') return paid;
          return paid.kind === 'known' && paid.micros > estimate.micros ? paid : keepEstimate(estimate);
        },
      },
    ],
    ['POST', '/v1/invoices/:id/void', zeroHandler('invoice voided')],
    ['POST', '/v1/invoices/:id/mark_uncollectible', zeroHandler('invoice marked uncollectible')],
    ['DELETE', '/v1/invoices/:id', zeroHandler('draft invoice deleted')],

    ['POST', '/v1/checkout/sessions', lineItemsHandler('Checkout Session', prices)],
    ['POST', '/v1/checkout/sessions/:id/expire', zeroHandler('Checkout Session expired')],
    // An open session's items and shipping can be changed: its payment would then be charged at them.
    ['POST', '/v1/checkout/sessions/:id', itemsUpdateHandler('Checkout Session')],
    ['POST', '/v1/payment_links', lineItemsHandler('Payment Link', prices)],
    ['POST', '/v1/payment_links/:id', itemsUpdateHandler('Payment Link')],

    ['POST', '/v1/refunds', creditHandler('refund', creditRefunds)],
    ['POST', '/v1/charges/:id/refunds', creditHandler('refund', creditRefunds)],
    ['POST', '/v1/charges/:id/refund', legacyChargeRefundHandler(creditRefunds)],
    ['POST', '/v1/transfers/:id/reversals', creditHandler('transfer reversal', creditRefunds)],
    ['POST', '/v1/refunds/:id', zeroHandler('refund updated')],
    [
      'POST',
      '/v1/refunds/:id/cancel',
      creditRefunds
        ? {
            // Cancelling a credited refund would take the credit back. But only a refund that has
            // `succeeded` can have been credited (see `creditHandler`), and Stripe cancels only one
            // in `requires_action`, never credited: cancelling that takes nothing back. A
            // `succeeded` one (Stripe refuses to cancel it) is still priced at its amount.
            moneyMoving: true,
            async estimate({ context, ids }) {
              const refund = await lookupObject(context, `/v1/refunds/${ids[0]}`);
              if (refund?.status !== undefined && refund.status !== 'succeeded')
                return known(0, `refund ${refund.status} canceled: never credited, nothing taken back`);
              if (refund?.amount === undefined || !refund.currency) {
                return { kind: 'unknown', reason: `refund ${ids[0]} could not be read to price its cancellation` };
              }
              return known(context.fx.toMicroUsd(refund.amount, refund.currency), 'refund canceled: credit taken back');
            },
            settle: ({ estimate }) => keepEstimate(estimate),
          }
        : zeroHandler('refund canceled'),
    ],

    // Objects that move no money by themselves.
    ['POST', '/v1/customers', guardedZeroHandler('customer created', customerMoneyParameters)],
    ['POST', '/v1/customers/:id', guardedZeroHandler('customer updated', customerMoneyParameters)],
    ['DELETE', '/v1/customers/:id', zeroHandler('customer deleted')],
    ['POST', '/v1/payment_methods', zeroHandler('payment method created')],
    ['POST', '/v1/payment_methods/:id', zeroHandler('payment method updated')],
    ['POST', '/v1/payment_methods/:id/attach', zeroHandler('payment method attached')],
    ['POST', '/v1/payment_methods/:id/detach', zeroHandler('payment method detached')],
    ['POST', '/v1/setup_intents', zeroHandler('SetupIntent created')],
    ['POST', '/v1/setup_intents/:id', zeroHandler('SetupIntent updated')],
    ['POST', '/v1/setup_intents/:id/confirm', zeroHandler('SetupIntent confirmed')],
    ['POST', '/v1/setup_intents/:id/cancel', zeroHandler('SetupIntent canceled')],
    ['POST', '/v1/products', zeroHandler('product created')],
    ['POST', '/v1/products/:id', zeroHandler('product updated')],
    ['DELETE', '/v1/products/:id', zeroHandler('product deleted')],
    ['POST', '/v1/prices', zeroHandler('price created')],
    [
      'POST',
      '/v1/prices/:id',
      // Not even with a fallback: what it costs is what existing sessions and links then charge.
      guardedZeroHandler(
        'price updated',
        (form) =>
          Object.keys(form).some((key) => key.startsWith('currency_options'))
            ? 'a price update that changes currency_options changes what existing Checkout Sessions and Payment Links charge'
            : undefined,
        { fallback: false },
      ),
    ],
    [
      'POST',
      '/v1/shipping_rates/:id',
      // As a price update: what its amounts cost is what existing sessions and links then charge.
      guardedZeroHandler(
        'shipping rate updated',
        (form) => {
          const key = Object.keys(form).find((name) => name.startsWith('fixed_amount'));
          return key === undefined
            ? undefined
            : `a shipping rate update setting \`${key.slice(0, 60)}\` changes what existing Checkout Sessions and Payment Links charge`;
        },
        { fallback: false },
      ),
    ],
    ['POST', '/v1/coupons', zeroHandler('coupon created')],
    ['DELETE', '/v1/coupons/:id', zeroHandler('coupon deleted')],
    ['POST', '/v1/tokens', zeroHandler('token created')],
    [
      'DELETE',
      '/v1/subscriptions/:id',
      guardedZeroHandler('subscription canceled', (form) =>
        form.invoice_now !== undefined && form.invoice_now !== 'false'
          ? 'cancelling with invoice_now bills a final invoice at once, which cannot be priced'
          : undefined,
      ),
    ],
  ];
  return table.map(([method, path, handler]) => ({ method, segments: path.split('/').slice(1), handler }));
}
