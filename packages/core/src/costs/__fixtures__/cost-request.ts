import { createFxTable, type FxRates } from '../../money/fx-table.js';
import type { CostContext, CostEstimate, CostModel, CostRequest, CostResponse, CostSettlement } from '../cost-model.js';

/** What a test says about a request; the body is a form, JSON or raw text. */
export interface TestRequestInit {
  method?: string;
  path: string;
  /** Form fields; pairs allow repeated keys (`MediaUrl`). */
  form?: Record<string, string> | Array<[string, string]>;
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  /** The query string, without `?`. */
  query?: string;
}

/**
 * Builds a {@link CostRequest} as the vault would (last value wins in `form()`).
 *
 * @example
 * ```ts
 * costRequest({ path: '/v1/charges', form: { amount: '100', currency: 'usd' } });
 * ```
 */
export function costRequest(init: TestRequestInit): CostRequest {
  const bodyText =
    init.body ??
    (init.form ? new URLSearchParams(init.form).toString() : init.json === undefined ? '' : JSON.stringify(init.json));
  return {
    method: init.method ?? 'POST',
    path: init.path,
    query: new URLSearchParams(init.query),
    search: init.query ? `?${init.query}` : '',
    headers: new Headers(init.headers),
    header: (name) => new Headers(init.headers).get(name) ?? undefined,
    bodyText,
    form: () => Object.fromEntries(new URLSearchParams(bodyText)),
    json: () => {
      try {
        return bodyText ? JSON.parse(bodyText) : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Builds a {@link CostResponse}.
 *
 * @example
 * ```ts
 * costResponse(200, { id: 'ch_1', amount: 100, currency: 'usd' });
 * ```
 */
export function costResponse(status: number, json?: unknown, headers?: Record<string, string>): CostResponse {
  const all = new Headers(headers);
  return { status, headers: all, header: (name) => all.get(name) ?? undefined, json };
}

/** A {@link CostContext} that records the paths it looked up. */
export interface TestCostContext extends CostContext {
  lookedUp: string[];
}

/**
 * An object as Stripe answers a read of it: the fields Stripe includes only when expanded
 * (`currency_options` of a Price, `fixed_amount.currency_options` of a shipping rate) are left out
 * unless the query's `expand[]` names them.
 */
function asStripeAnswers(found: unknown, expand: readonly string[]): unknown {
  if (typeof found !== 'object' || found === null) return found;
  const object = { ...(found as Record<string, unknown>) };
  if (!expand.includes('currency_options')) delete object.currency_options;
  const fixed = object.fixed_amount;
  if (typeof fixed === 'object' && fixed !== null && !expand.includes('fixed_amount.currency_options')) {
    const { currency_options: _, ...rest } = fixed as Record<string, unknown>;
    object.fixed_amount = rest;
  }
  return object;
}

/**
 * Builds a {@link CostContext} with FX rates and canned lookups, keyed by path without the query (a
 * missing path resolves to `undefined`). Fields Stripe includes only when expanded are left out
 * unless the lookup expands them.
 *
 * @example
 * ```ts
 * costContext({ fx: { eur: '1.08' }, lookups: { '/v1/prices/price_1': { unit_amount: 500, currency: 'usd' } } });
 * ```
 */
export function costContext(options: { fx?: FxRates; lookups?: Record<string, unknown> } = {}): TestCostContext {
  const lookedUp: string[] = [];
  return {
    fx: createFxTable(options.fx),
    lookedUp,
    async lookup(path) {
      lookedUp.push(path);
      const [pathname = '', query = ''] = path.split('?');
      return asStripeAnswers(options.lookups?.[pathname], new URLSearchParams(query).getAll('expand[]'));
    },
  };
}

/**
 * Estimates a request with a cost model, then settles it against a response: the two numbers a
 * ledger would see.
 *
 * @example
 * ```ts
 * const { estimate, settlement } = await estimateThenSettle(model, { path: '/v1/charges', form }, { json: charge });
 * ```
 */
export async function estimateThenSettle(
  model: CostModel,
  init: TestRequestInit,
  response: { status?: number; json?: unknown; headers?: Record<string, string> },
  context: CostContext = costContext(),
): Promise<{ estimate: CostEstimate; settlement: CostSettlement }> {
  const request = costRequest(init);
  const estimate = await model.estimate(request, context);
  const settlement = model.settle(
    request,
    costResponse(response.status ?? 200, response.json, response.headers),
    estimate,
    context,
  );
  return { estimate, settlement };
}
