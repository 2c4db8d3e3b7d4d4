import type { FxTable } from '../money/fx-table.js';
import type { MicroUsd } from '../money/micro-usd.js';

/** A vendor request as a cost model sees it, before it is sent. */
export interface CostRequest {
  /** Upper-case HTTP method. */
  method: string;
  /** The normalised vendor path, without query: `/v1/payment_intents`. */
  path: string;
  /** Query parameters. */
  query: URLSearchParams;
  /** The query string as sent, with its `?` (`''` when there is none): `%3B` and `;` differ here. */
  search: string;
  /** Request headers (the vault key is already removed). */
  headers: Headers;
  /** One request header by lower-case name, without building `Headers` (never a credential header). */
  header(name: string): string | undefined;
  /** The request body as text (`''` when there is none). */
  bodyText: string;
  /** The body decoded as `application/x-www-form-urlencoded` flat bracketed keys (`line_items[0][quantity]`). */
  form(): Record<string, string>;
  /** The body parsed as JSON; `undefined` if it is not JSON. */
  json(): unknown;
}

/** A vendor response as a cost model sees it. */
export interface CostResponse {
  status: number;
  /** The response headers (built on first read; prefer {@link CostResponse.header} for one value). */
  headers: Headers;
  /** One response header by lower-case name (repeated values joined with `, `), without building `Headers`. */
  header(name: string): string | undefined;
  /** The body parsed as JSON; `undefined` if it is not JSON. */
  json: unknown;
}

/** What a cost model can use besides the request. */
export interface CostContext {
  /** Converts minor units of any configured currency to micro-dollars (throws `UnknownCurrencyError`). */
  fx: FxTable;
  /**
   * Reads a vendor resource with the real credentials, uncounted and unaudited, for estimates
   * that need state (an invoice's `amount_remaining`, a price's `unit_amount`). Resolves to the
   * parsed JSON body, or `undefined` if the vendor did not answer 2xx or was not read (the calling
   * key was revoked meanwhile: the vault then denies the call, whatever the estimate). Rejects only
   * when the caller aborted the call.
   */
  lookup(path: string): Promise<unknown>;
}

/**
 * An estimate before sending. `unknown` on a money-moving call is denied (fail closed) unless
 * the key's policy sets a fallback estimate — or the estimate says `fallback: false`, for a call
 * no fixed amount can stand for (it changes what a later, priced call charges).
 */
export type CostEstimate =
  | { kind: 'known'; micros: MicroUsd /** Short human note for the audit record. */; note?: string }
  | {
      kind: 'unknown';
      reason: string;
      /** `false`: denied even on a key with a fallback estimate. @default true */
      fallback?: boolean;
    };

/** The cost after the response, used to settle the reservation. */
export type CostSettlement =
  | {
      kind: 'known';
      micros: MicroUsd;
      note?: string;
      /**
       * A vendor object id (e.g. a Twilio message SID) whose real price arrives later; a later
       * {@link CostModel.reconcile} result naming it replaces this settlement.
       */
      pendingRef?: string;
      /**
       * `micros` is only the least the call costs (a Checkout Session's opening total, which
       * quantities may still raise): the vault counts the larger of it and the estimate.
       */
      atLeast?: boolean;
    }
  | { kind: 'unknown'; reason: string };

/** A late, real price for a call settled earlier at its estimate. */
export interface CostReconciliation {
  /** The `pendingRef` given at settlement. */
  ref: string;
  /** The real cost. */
  micros: MicroUsd;
}

/**
 * Prices one vendor's calls: an estimate from the request (reserved before sending) and the
 * actual cost from the response (settled after). Implementations must never undercount money
 * that moved and never count the same money twice. They must not throw on a missing field —
 * return `unknown` instead (they may throw `UnknownCurrencyError` from `fx`).
 */
export interface CostModel {
  /** Estimates the cost of a call before it is sent. Read calls cost 0. */
  estimate(request: CostRequest, context: CostContext): CostEstimate | Promise<CostEstimate>;
  /**
   * Parses the actual cost from the vendor's response. Called for every response that came back;
   * a non-2xx response that moved no money settles to 0.
   */
  settle(request: CostRequest, response: CostResponse, estimate: CostEstimate, context: CostContext): CostSettlement;
  /**
   * Optional: looks at any successful response (typically a GET of an object) for a real price
   * of a call settled earlier with a `pendingRef`.
   */
  reconcile?(request: CostRequest, response: CostResponse, context: CostContext): CostReconciliation | undefined;
  /**
   * Optional: like {@link CostModel.reconcile}, but returns a real price for every priced item of
   * the response (a list page). When present, the vault uses it instead of `reconcile`.
   */
  reconcileAll?(request: CostRequest, response: CostResponse, context: CostContext): readonly CostReconciliation[];
}
