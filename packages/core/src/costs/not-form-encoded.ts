import type { CostRequest } from './cost-model.js';

/**
 * Why a request's body may not be read as a form, or `undefined`: a `Content-Type` other than
 * `application/x-www-form-urlencoded` (multipart, JSON). A missing one is read as a form, as the
 * form-based vendors (Stripe, Twilio) do.
 *
 * @example
 * ```ts
 * notFormEncoded(request); // 'a multipart/form-data body cannot be priced; send it form-encoded'
 * ```
 */
export function notFormEncoded(request: CostRequest): string | undefined {
  const media = mediaTypeOf(request);
  return media && media !== 'application/x-www-form-urlencoded'
    ? `a ${media.slice(0, 60)} body cannot be priced; send it form-encoded`
    : undefined;
}

/** A request's media type, lower-cased, without parameters (`application/json`), if it has one. */
export function mediaTypeOf(request: CostRequest): string | undefined {
  return request.header('content-type')?.split(';', 1)[0]?.trim().toLowerCase() || undefined;
}
