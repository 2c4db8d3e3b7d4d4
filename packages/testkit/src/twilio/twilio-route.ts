import type { Route } from '../http/create-router.js';

/**
 * A message the fake Twilio accepted, with its computed segments and final price.
 *
 * @example
 * ```ts
 * const [message] = fake.messages();
 * expect(message?.segments).toBe(2);
 * expect(message?.price).toBe('-0.01660');
 * ```
 */
export interface FakeTwilioMessage {
  /** Message SID, `SM` + 32 hex. */
  sid: string;
  /** Account the message was sent on. */
  accountSid: string;
  /** Recipient. */
  to: string;
  /** Sender number, `null` when sent through a Messaging Service only. */
  from: string | null;
  /** Messaging Service SID, when given. */
  messagingServiceSid: string | null;
  /** Body as sent (`''` for media-only MMS). */
  body: string;
  /** `MediaUrl` values, in order; non-empty means MMS. */
  mediaUrls: string[];
  /** SMS encoding of the body. */
  encoding: 'GSM-7' | 'UCS-2';
  /** Segments billed (always 1 for MMS). */
  segments: number;
  /** Final price Twilio bills, a negative decimal string with 5 decimals, e.g. `-0.01660`. */
  price: string;
  /** Price currency. */
  priceUnit: 'USD';
  /** Current status: `queued` / `accepted` until first fetched, then `delivered`. */
  status: string;
}

/**
 * A call the fake Twilio accepted, with its billed duration and final price.
 *
 * @example
 * ```ts
 * const [call] = fake.calls();
 * expect(call?.price).toBe('-0.01400');
 * ```
 */
export interface FakeTwilioCall {
  /** Call SID, `CA` + 32 hex. */
  sid: string;
  /** Account the call was placed on. */
  accountSid: string;
  /** Callee. */
  to: string;
  /** Caller. */
  from: string;
  /** Call duration in seconds once completed (`TimeLimit` caps it). */
  durationSeconds: number;
  /** Final price: started minutes × price per minute, negative, 5 decimals. */
  price: string;
  /** Price currency. */
  priceUnit: 'USD';
  /** Current status: `queued` until first fetched, then `completed`. */
  status: string;
}

/**
 * Prices and durations the fake Twilio bills with.
 *
 * @example
 * ```ts
 * const pricing: TwilioPricing = { pricePerSegment: '0.0083', mmsPricePerMessage: '0.0200', pricePerMinute: '0.0140', callDurationSeconds: 60 };
 * ```
 */
export interface TwilioPricing {
  /** USD per SMS segment. */
  pricePerSegment: string;
  /** USD per MMS message. */
  mmsPricePerMessage: string;
  /** USD per started call minute. */
  pricePerMinute: string;
  /** How long every call lasts, in seconds. */
  callDurationSeconds: number;
}

/**
 * What a fake Twilio route handler gets.
 *
 * @example
 * ```ts
 * const handler: TwilioRouteHandler = ({ params }) => ({ status: 200, body: { sid: params.sid } });
 * ```
 */
export interface TwilioRouteContext {
  /** Path parameters (`accountSid`, `sid`). */
  params: Record<string, string>;
  /** Form parameters; use `getAll` for repeated ones such as `MediaUrl`. */
  form: URLSearchParams;
  /** Messages by SID, each with its current Twilio JSON. */
  messages: Map<string, { info: FakeTwilioMessage; json: Record<string, unknown> }>;
  /** Calls by SID, each with its current Twilio JSON. */
  calls: Map<string, { info: FakeTwilioCall; json: Record<string, unknown> }>;
  /** Billing settings. */
  pricing: TwilioPricing;
  /** Current time in milliseconds. */
  now: number;
}

/**
 * A fake Twilio route handler: returns the status and JSON to answer with, or throws a Twilio error.
 *
 * @example
 * ```ts
 * const handler: TwilioRouteHandler = () => ({ status: 201, body: {} });
 * ```
 */
export type TwilioRouteHandler = (context: TwilioRouteContext) => { status: number; body: Record<string, unknown> };

/**
 * A fake Twilio route.
 *
 * @example
 * ```ts
 * const route: TwilioRoute = { method: 'GET', pattern: '/2010-04-01/Accounts/:accountSid/Calls/:sid.json', handler };
 * ```
 */
export type TwilioRoute = Route<TwilioRouteHandler>;

/**
 * A date the way Twilio writes it (RFC 2822, `+0000`).
 *
 * @param ms - Milliseconds since the epoch.
 * @returns E.g. `Thu, 24 Aug 2023 05:01:45 +0000`.
 * @example
 * ```ts
 * twilioDate(0); // 'Thu, 01 Jan 1970 00:00:00 +0000'
 * ```
 */
export function twilioDate(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

/**
 * A Twilio price: `-(count × unit price)` with 5 decimals, computed in 1/100000 USD to avoid float drift.
 *
 * @param unitPrice - Price of one unit as a decimal string, e.g. `0.0083`.
 * @param count - Units billed.
 * @returns E.g. `-0.01660`.
 * @example
 * ```ts
 * twilioPrice('0.0083', 2); // '-0.01660'
 * ```
 */
export function twilioPrice(unitPrice: string, count: number): string {
  const total = Math.round(Number(unitPrice) * 100_000) * count;
  return `${total > 0 ? '-' : ''}${(total / 100_000).toFixed(5)}`;
}
