import { toMicroUsd } from '../money/micro-usd.js';
import { type EndpointPattern, matchesEndpoint, parseEndpointPattern } from '../paths/endpoint-matcher.js';
import type { CostModel } from './cost-model.js';

/** Options of {@link createFixedPriceCostModel}. */
export interface FixedPriceCostModelOptions {
  /** USD per call by endpoint pattern, e.g. `{ 'POST /v1/charges': '1.50', 'GET /**': 0 }`. First match wins. */
  prices: Record<string, number | string>;
  /**
   * Price of a call matching no pattern; `undefined` makes such calls "unknown cost" (denied unless
   * the key sets a fallback).
   * @default undefined
   */
  defaultUsd?: number | string;
}

/**
 * A cost model with a fixed price per endpoint: for tests and for vendors that bill per call.
 * Settles 2xx responses at the price, 5xx responses at the price too (the outcome is unknown, so
 * the estimate stays counted), and other responses to 0.
 *
 * @example
 * ```ts
 * const model = createFixedPriceCostModel({ prices: { 'POST /v1/charges': '2.00' }, defaultUsd: 0 });
 * ```
 */
export function createFixedPriceCostModel(options: FixedPriceCostModelOptions): CostModel {
  const table: Array<[EndpointPattern, number]> = Object.entries(options.prices).map(([pattern, usd]) => [
    parseEndpointPattern(pattern),
    toMicroUsd(usd),
  ]);
  const fallback = options.defaultUsd === undefined ? undefined : toMicroUsd(options.defaultUsd);
  return {
    estimate(request) {
      const hit = table.find(([pattern]) => matchesEndpoint(pattern, request.method, request.path));
      if (hit) return { kind: 'known', micros: hit[1] };
      if (fallback !== undefined) return { kind: 'known', micros: fallback };
      return { kind: 'unknown', reason: `no price for ${request.method} ${request.path}` };
    },
    settle(_request, response, estimate) {
      // A 5xx may come after the vendor billed, so it keeps the price like a 2xx; other answers cost nothing.
      const answered = response.status >= 200 && response.status < 300;
      if (!answered && response.status < 500) return { kind: 'known', micros: 0 };
      return estimate.kind === 'known' ? { kind: 'known', micros: estimate.micros } : estimate;
    },
  };
}
