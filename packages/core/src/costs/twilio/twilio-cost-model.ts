import { z } from 'zod';
import { InvalidPolicyError } from '../../errors/invalid-policy-error.js';
import { type MicroUsd, toMicroUsd } from '../../money/micro-usd.js';
import { type EndpointPattern, matchesEndpoint, parseEndpointPattern } from '../../paths/endpoint-matcher.js';
import type {
  CostContext,
  CostEstimate,
  CostModel,
  CostReconciliation,
  CostRequest,
  CostResponse,
  CostSettlement,
} from '../cost-model.js';
import { notFormEncoded } from '../not-form-encoded.js';
import { countSmsSegments, type SmsSegmentOptions } from './count-sms-segments.js';
import { parseTwilioPrice } from './parse-twilio-price.js';

/** Options of {@link createTwilioCostModel}. Amounts are USD, as numbers or decimal strings. */
export interface TwilioCostOptions {
  /**
   * Estimated price of one outbound SMS segment to a `+1` number (US, Canada), used until Twilio
   * reports the real price.
   * @default '0.0083' (Twilio's published US rate)
   */
  smsSegmentUsd?: number | string;
  /**
   * Per-segment prices by destination prefix (E.164, longest prefix wins; `'+'` alone matches
   * every number). A message to a number outside `+1` that no prefix here matches is `unknown`
   * (denied): most destinations cost several times the US rate.
   * @default {}
   * @example { '+44': '0.0524', '+49': '0.0946', '+': '0.1000' }
   */
  smsSegmentUsdByPrefix?: Readonly<Record<string, number | string>>;
  /**
   * Estimated price of one outbound MMS (any message with a `MediaUrl`).
   * @default '0.0200'
   */
  mmsUsd?: number | string;
  /**
   * Estimated price of one minute of an outbound call to a `+1` number.
   * @default '0.0140'
   */
  callPerMinuteUsd?: number | string;
  /**
   * Per-minute call prices by destination prefix, as {@link TwilioCostOptions.smsSegmentUsdByPrefix}:
   * a call to a number outside `+1` that no prefix here matches is `unknown` (denied). The keys
   * `'client:'` and `'sip:'` price calls to Voice SDK clients and SIP endpoints (`unknown` without).
   * @default {}
   * @example { '+44': '0.0300', '+': '0.5000', 'client:': '0.0040' }
   */
  callPerMinuteUsdByPrefix?: Readonly<Record<string, number | string>>;
  /**
   * Minutes reserved for a call created without `TimeLimit`. The default is Twilio's own limit,
   * 4 hours, since such a call can run that long; a lower value lets a cap be exceeded by calls
   * that run longer. Set `TimeLimit` on each call to reserve less. The real price replaces the
   * estimate when Twilio reports it.
   * @default 240
   */
  defaultCallMinutes?: number;
  /**
   * More endpoints that cost nothing, as allow-list patterns. Every POST/DELETE that is neither
   * here, nor in the built-in zero-cost table, nor a priced endpoint is `unknown` (fail closed).
   * @default []
   */
  zeroCostEndpoints?: readonly string[];
}

/** The Twilio cost model: a {@link CostModel} that reconciles every item of a list. */
export interface TwilioCostModel extends CostModel {
  reconcile(request: CostRequest, response: CostResponse, context: CostContext): CostReconciliation | undefined;
  /**
   * Like `reconcile`, but returns a late price for every priced message or call in the response
   * (a single GET or a list page). The vault uses this one.
   */
  reconcileAll(request: CostRequest, response: CostResponse, context: CostContext): CostReconciliation[];
}

const ACCOUNT = String.raw`/\d{4}-\d{2}-\d{2}/Accounts/[^/]+`;
const MESSAGES = new RegExp(`^${ACCOUNT}/Messages\\.json$`);
const MESSAGE = new RegExp(`^${ACCOUNT}/Messages/([^/]+)\\.json$`);
const MESSAGE_MEDIA = new RegExp(`^${ACCOUNT}/Messages/[^/]+/Media/[^/]+\\.json$`);
const CALLS = new RegExp(`^${ACCOUNT}/Calls\\.json$`);
const CALL = new RegExp(`^${ACCOUNT}/Calls/([^/]+)\\.json$`);
/** Adding a participant to a conference dials it: an outbound call. */
const PARTICIPANTS = new RegExp(`^${ACCOUNT}/Conferences/[^/]+/Participants\\.json$`);
const PARTICIPANT = new RegExp(`^${ACCOUNT}/Conferences/[^/]+/Participants/[^/]+\\.json$`);
/**
 * Messages, calls and conference participants (lists and members, and a message's media) in any
 * letter case, once the last segment's extension is cut: Twilio serves them without one and as
 * `.xml` too, and messages also under their deprecated `SMS/Messages` route, but only their `.json`
 * routes ({@link JSON_ROUTES}) are priced.
 */
const PRICED_RESOURCE = new RegExp(
  `^${ACCOUNT}/(?:(?:SMS/)?Messages(?:/[^/]+(?:/Media/[^/]+)?)?|Calls(?:/[^/]+)?|Conferences/[^/]+/Participants(?:/[^/]+)?)$`,
  'i',
);
const JSON_ROUTES = [MESSAGES, MESSAGE, MESSAGE_MEDIA, CALLS, CALL, PARTICIPANTS, PARTICIPANT];
/**
 * A queue's member (a waiting call, or `Front`), in any letter case and with any extension once
 * cut: updating it dequeues the call to the TwiML at its `Url`, which can dial as a call update's can.
 */
const QUEUE_MEMBER = new RegExp(`^${ACCOUNT}/Queues/[^/]+/Members/[^/]+$`, 'i');

const text = z.string().nullish().catch(undefined);
const priced = z.object({
  sid: text,
  /** A conference participant's: the call Twilio placed to add it, priced on a GET of that call. */
  call_sid: text,
  price: z.union([z.string(), z.number()]).nullish().catch(undefined),
  price_unit: text,
  /** A message's: the segments Twilio will send, after any rewriting of its body (shortened links). */
  num_segments: z.union([z.string(), z.number()]).nullish().catch(undefined),
});
const pricedList = z.object({
  messages: z.array(z.unknown()).nullish().catch(undefined),
  calls: z.array(z.unknown()).nullish().catch(undefined),
});

const known = (micros: MicroUsd, note?: string): CostSettlement & CostEstimate =>
  note === undefined ? { kind: 'known', micros } : { kind: 'known', micros, note };

/**
 * Creates the cost model of Twilio's REST API (`api.twilio.com/2010-04-01`).
 *
 * - `POST …/Messages.json`: SMS segments of `Body` × the per-segment price (GSM-7 160/153,
 *   UCS-2 70/67), or one MMS when any `MediaUrl` is present. Settled at the estimate with
 *   `pendingRef` = the message SID, since Twilio's `price` is `null` at creation.
 * - `POST …/Calls.json`: `TimeLimit` rounded up to minutes (else `defaultCallMinutes`) × the
 *   per-minute price, settled the same way with the call SID. A call of unknown cost (a destination
 *   with no configured price, TwiML that dials, a recording or answering-machine detection, which
 *   Twilio bills apart from the call…) is denied even on a key with a fallback estimate:
 *   minutes at an unknown rate, or legs Twilio prices apart, are bounded by no fixed estimate.
 * - `POST …/Conferences/{sid}/Participants.json` dials the participant: priced as a call, and
 *   settled pending on the answer's `call_sid`.
 * - Any other write to messages, calls or participants — extensionless or `.xml` (which Twilio
 *   serves too), another letter case, `PUT`/`PATCH` — is `unknown`, denied even on a key with a
 *   fallback estimate.
 * - A message create of unknown cost that a key's fallback estimate lets through is settled at the
 *   fallback, pending on its SID too: Twilio's price for it replaces the fallback.
 * - A later GET of a message or call (or a list of them) with a non-null `price` reconciles the
 *   pending settlement to `|price|` in `price_unit`.
 * - Other GETs cost 0; deleting a message or call, and updating a message, cost 0. A call update
 *   is free only if it sets `Status`, `StatusCallback`, `StatusCallbackMethod`, or inline `Twiml`
 *   that only speaks, plays, pauses or hangs up; any other, or one with query parameters or a body
 *   that is not form-encoded, is `unknown`. Every other POST/DELETE is `unknown` (fail closed).
 *
 * @param options - Prices and extra zero-cost endpoints; see {@link TwilioCostOptions}.
 * @returns The {@link TwilioCostModel}.
 * @throws {InvalidPolicyError} if a price or `defaultCallMinutes` is malformed.
 * @example
 * ```ts
 * const model = createTwilioCostModel({ smsSegmentUsdByPrefix: { '+44': '0.0524' } });
 * model.estimate(request, context); // { kind: 'known', micros: 16_600, note: '2 GSM-7 segments' }
 * ```
 */
export function createTwilioCostModel(options: TwilioCostOptions = {}): TwilioCostModel {
  const segmentPrices = prefixTable('SMS', options.smsSegmentUsd ?? '0.0083', options.smsSegmentUsdByPrefix);
  const mmsMicros = toMicroUsd(options.mmsUsd ?? '0.0200');
  // `client:` and `sip:` keys price calls to Voice SDK clients and SIP endpoints; the rest are prefixes.
  const { 'client:': clientUsd, 'sip:': sipUsd, ...byPrefix } = options.callPerMinuteUsdByPrefix ?? {};
  const minutePrices = prefixTable('call', options.callPerMinuteUsd ?? '0.0140', byPrefix);
  const endpointPrices: Readonly<Record<string, MicroUsd | undefined>> = {
    client: clientUsd === undefined ? undefined : toMicroUsd(clientUsd),
    sip: sipUsd === undefined ? undefined : toMicroUsd(sipUsd),
  };
  const defaultCallMinutes = options.defaultCallMinutes ?? 240;
  if (!Number.isSafeInteger(defaultCallMinutes) || defaultCallMinutes < 1) {
    throw new InvalidPolicyError({
      message: `Invalid defaultCallMinutes ${defaultCallMinutes}: expected a positive integer.`,
    });
  }
  const zeroCost: EndpointPattern[] = (options.zeroCostEndpoints ?? []).map((source) => parseEndpointPattern(source));

  const estimateMessage = (request: CostRequest): CostEstimate => {
    const form = caseless(request.bodyText);
    const repeated = repeatedParameter(form, ['To', 'Body', 'SendAsMms', 'ContentSid']);
    if (repeated) return { kind: 'unknown', reason: `a repeated \`${repeated}\` cannot be priced` };
    if (form.has('contentsid')) {
      return { kind: 'unknown', reason: 'a message sent from a ContentSid template has no Body to count segments' };
    }
    const to = destination(form.get('to'));
    if (to === undefined) return { kind: 'unknown', reason: '`To` is not an E.164 phone number' };
    const perSegment = priceFor(segmentPrices, to);
    if (perSegment === undefined) {
      return { kind: 'unknown', reason: `no SMS price is configured for ${to.slice(0, 4)}… (smsSegmentUsdByPrefix)` };
    }
    const media = form.getAll('mediaurl').filter((url) => url.trim() !== '');
    const body = form.get('body') ?? '';
    // Any value but `false` may be read as true (`1`, `yes`): the dearer reading is priced.
    const sendAsMms = form.get('sendasmms');
    if (media.length > 0 || (sendAsMms !== null && sendAsMms.toLowerCase() !== 'false')) {
      // Outside the US and Canada Twilio sends an SMS with the media links; inside, its MMS
      // Converter (on by default) does so for a carrier without MMS, charged as that SMS.
      const asSms = countSmsSegments([body, ...media].join('\n'), segmentOptions(to)).segments * perSegment;
      if (to.startsWith('+1') && !NANP_OUTSIDE_US_CANADA.has(to.slice(2, 5)) && asSms <= mmsMicros) {
        return known(mmsMicros, `MMS with ${media.length} media`);
      }
      return known(Math.max(mmsMicros, asSms), `MMS with ${media.length} media, or its SMS with links`);
    }
    const { encoding, segments } = countSmsSegments(body, segmentOptions(to));
    return known(segments * perSegment, `${segments} ${encoding} segment${segments === 1 ? '' : 's'}`);
  };

  const estimateCall = (request: CostRequest): CostEstimate => {
    const form = caseless(request.bodyText);
    const repeated = repeatedParameter(form, ['To', 'TimeLimit', 'Twiml']);
    if (repeated) return { kind: 'unknown', reason: `a repeated \`${repeated}\` cannot be priced` };
    const twiml = form.get('twiml');
    const verb = twiml === null ? undefined : costlyTwimlVerb(twiml);
    if (verb) {
      return { kind: 'unknown', reason: `inline TwiML with ${verb} can dial, record or fetch more: not priced` };
    }
    const extra = billedApart(form);
    if (extra) return { kind: 'unknown', reason: `\`${extra}\` is billed apart from the call: not priced` };
    const endpoint = /^(client|sip):/i.exec(form.get('to') ?? '')?.[1]?.toLowerCase();
    let perMinute: MicroUsd | undefined;
    if (endpoint !== undefined) {
      perMinute = endpointPrices[endpoint];
      if (perMinute === undefined) {
        return {
          kind: 'unknown',
          reason: `no call price is configured for ${endpoint}: destinations (callPerMinuteUsdByPrefix['${endpoint}:'])`,
        };
      }
    } else {
      const to = destination(form.get('to'));
      if (to === undefined) return { kind: 'unknown', reason: '`To` is not an E.164 phone number' };
      perMinute = priceFor(minutePrices, to);
      if (perMinute === undefined) {
        return {
          kind: 'unknown',
          reason: `no call price is configured for ${to.slice(0, 4)}… (callPerMinuteUsdByPrefix)`,
        };
      }
    }
    const raw = form.get('timelimit');
    // Not trimmed: a strict reader may ignore ` 60` and run the call to its own limit.
    if (raw !== null && !/^\d{1,9}$/.test(raw))
      return { kind: 'unknown', reason: '`TimeLimit` is not a whole number of seconds' };
    // No TimeLimit, or 0 (which Twilio may read as "none"), reserves Twilio's own limit.
    const seconds = raw === null ? 0 : Number(raw);
    const minutes = seconds === 0 ? defaultCallMinutes : Math.ceil(seconds / 60);
    return known(minutes * perMinute, `call reserved for ${minutes} minute${minutes === 1 ? '' : 's'}`);
  };

  const isZeroCost = (method: string, path: string, request: CostRequest): boolean => {
    if (zeroCost.some((pattern) => matchesEndpoint(pattern, method, path))) return true;
    if (method === 'DELETE') return MESSAGE.test(path) || MESSAGE_MEDIA.test(path) || CALL.test(path);
    if (method !== 'POST' || unreadableParameters(request)) return false;
    // Updating a message (redact, cancel a scheduled one) costs nothing.
    if (MESSAGE.test(path)) return true;
    // Nor does hanging up or cancelling a call, or moving its status callback. New TwiML (`Twiml`,
    // `Url`, `FallbackUrl`) can dial more numbers, and `TimeLimit` lengthens the call: unknown.
    return CALL.test(path) && callUpdateCost(request) === undefined;
  };

  /**
   * Why a call update (`POST …/Calls/{sid}.json`) may cost money, or `undefined` if it is free:
   * setting its status or status callback, or inline TwiML that only speaks, plays or hangs up.
   * New TwiML elsewhere (`Url`, `FallbackUrl`) or that dials, and `TimeLimit`, may add billed legs
   * or minutes.
   */
  const callUpdateCost = (request: CostRequest): string | undefined => {
    const unreadable = unreadableParameters(request);
    if (unreadable) return unreadable;
    // Names in any letter case, as Twilio reads them (and as a call create is read).
    const form = new URLSearchParams(request.bodyText);
    const twimls = [...form.keys()].filter((name) => name.toLowerCase() === 'twiml').length;
    for (const [name, value] of form) {
      const lower = name.toLowerCase();
      if (FREE_CALL_UPDATE.has(lower)) continue;
      if (lower === 'twiml' && twimls === 1) {
        const verb = costlyTwimlVerb(value);
        if (verb === undefined) continue;
        return `a call update whose TwiML has ${verb} can dial, record or fetch more: not priced`;
      }
      return `a call update setting \`${name.slice(0, 40)}\` can dial out or lengthen the call: not priced`;
    }
    return undefined;
  };

  const reconcileAll = (request: CostRequest, response: CostResponse, context: CostContext): CostReconciliation[] => {
    if (request.method.toUpperCase() !== 'GET' || response.status < 200 || response.status >= 300) return [];
    const { path } = request;
    let items: unknown[] = [];
    if (MESSAGE.test(path) || CALL.test(path)) items = [response.json];
    else if (MESSAGES.test(path) || CALLS.test(path)) {
      const list = pricedList.safeParse(response.json);
      items = list.success ? (list.data.messages ?? list.data.calls ?? []) : [];
    }
    const results: CostReconciliation[] = [];
    for (const item of items) {
      const parsed = priced.safeParse(item);
      if (!parsed.success || !parsed.data.sid) continue;
      const micros = parseTwilioPrice(parsed.data.price, parsed.data.price_unit, context.fx);
      if (micros !== undefined) results.push({ ref: parsed.data.sid, micros });
    }
    return results;
  };

  /** A message's `num_segments` from Twilio's answer, priced at its destination's rate; `undefined` if either is unreadable. */
  const answeredSegments = (
    request: CostRequest,
    answer: { num_segments?: string | number | null | undefined },
  ): { count: number; micros: MicroUsd } | undefined => {
    const raw = answer.num_segments;
    const count = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(count) || count < 1 || count > 9999) return undefined;
    const to = destination(caseless(request.bodyText).get('to'));
    const perSegment = to === undefined ? undefined : priceFor(segmentPrices, to);
    return perSegment === undefined ? undefined : { count, micros: count * perSegment };
  };

  return {
    estimate(request) {
      const method = request.method.toUpperCase();
      if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return known(0);
      const otherRoute = otherRouteOf(method, request.path);
      if (otherRoute) return { kind: 'unknown', reason: otherRoute, fallback: false };
      if (QUEUE_MEMBER.test(request.path.replace(/\.[^/]*$/, ''))) {
        // As a call update with `Url`: the legs the new TwiML dials are calls of their own.
        return {
          kind: 'unknown',
          reason:
            'dequeuing a call sends it to TwiML Keybrake cannot read, which can dial out; never let through at a fallback estimate',
          fallback: false,
        };
      }
      if (method === 'POST' && isCreate(request.path)) {
        const unreadable = unreadableParameters(request);
        const estimate: CostEstimate = unreadable
          ? { kind: 'unknown', reason: unreadable }
          : MESSAGES.test(request.path)
            ? estimateMessage(request)
            : estimateCall(request);
        // A call's minutes at a rate Keybrake does not know, or the legs its TwiML dials (priced by
        // Twilio apart from the call), are bounded by no fixed fallback estimate: 3 four-hour calls
        // at $0.25 a minute would pass a $5 cap at $0.05 each.
        if (estimate.kind === 'unknown' && !MESSAGES.test(request.path)) {
          return {
            kind: 'unknown',
            reason: estimate.reason.startsWith('no call price is configured')
              ? `${estimate.reason}; a call of unknown cost is never let through at a fallback estimate: configure its price`
              : `${estimate.reason}; a call of unknown cost is never let through at a fallback estimate`,
            fallback: false,
          };
        }
        return estimate;
      }
      if (isZeroCost(method, request.path, request)) return known(0, 'zero-cost endpoint');
      if (method === 'POST' && CALL.test(request.path)) {
        // As new TwiML at a call's creation: the legs it dials (up to 4 hours each, to any number)
        // are priced by Twilio as calls of their own, which no fixed fallback estimate bounds.
        return {
          kind: 'unknown',
          reason: `${callUpdateCost(request) ?? 'this call update cannot be priced'}; never let through at a fallback estimate`,
          fallback: false,
        };
      }
      return { kind: 'unknown', reason: `${method} ${request.path} is not a Twilio endpoint Keybrake can price` };
    },

    settle(request, response, estimate, context) {
      const method = request.method.toUpperCase();
      if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return known(0);
      const creates = method === 'POST' && isCreate(request.path);
      const moneyMoving = creates || !isZeroCost(method, request.path, request);
      if (response.status >= 500 && moneyMoving) {
        return estimate.kind === 'known'
          ? known(estimate.micros, `Twilio answered ${response.status}: outcome unknown, estimate kept`)
          : estimate;
      }
      if (response.status < 200 || response.status >= 300)
        return known(0, `Twilio answered ${response.status}: nothing sent`);
      if (!creates) return estimate.kind === 'known' ? known(estimate.micros, estimate.note) : estimate;
      const parsed = priced.safeParse(response.json);
      const sid = parsed.success
        ? ((PARTICIPANTS.test(request.path) ? parsed.data.call_sid : parsed.data.sid) ?? undefined)
        : undefined;
      const price = parsed.success
        ? parseTwilioPrice(parsed.data.price, parsed.data.price_unit, context.fx)
        : undefined;
      if (price !== undefined) return known(price, "Twilio's price");
      // The segments Twilio says it will send, which may be more than the body as written
      // (`ShortenUrls`, a template): no less is counted while the price is pending.
      const segments =
        parsed.success && MESSAGES.test(request.path) ? answeredSegments(request, parsed.data) : undefined;
      if (estimate.kind === 'unknown') {
        // Let through at the key's fallback estimate, which stays counted (`atLeast`) until
        // Twilio's price, read on a later GET, replaces it, however far above the fallback.
        if (!sid) return estimate;
        const micros = segments?.micros ?? 0;
        return { kind: 'known', micros, atLeast: true, note: 'fallback estimate; price pending', pendingRef: sid };
      }
      const settled =
        segments && segments.micros > estimate.micros
          ? known(segments.micros, `${segments.count} segments, as Twilio answered; price pending`)
          : known(estimate.micros, `${estimate.note ?? 'estimate'}; price pending`);
      return sid ? { ...settled, pendingRef: sid } : settled;
    },

    reconcile(request, response, context) {
      return reconcileAll(request, response, context)[0];
    },

    reconcileAll,
  };
}

/** Prices by destination prefix, longest first; `'+1'` gets the base price unless a prefix says otherwise. */
interface PrefixPrice {
  prefix: string;
  micros: MicroUsd;
}

function prefixTable(
  kind: 'SMS' | 'call',
  usPrice: number | string,
  byPrefix: Readonly<Record<string, number | string>> | undefined,
): PrefixPrice[] {
  const table = Object.entries(byPrefix ?? {}).map(([prefix, usd]) => {
    if (!/^\+?\d*$/.test(prefix) || prefix === '') {
      throw new InvalidPolicyError({
        message: `Invalid ${kind} price prefix ${JSON.stringify(prefix)}: expected E.164 digits, e.g. "+44" (or "+" for every number).`,
      });
    }
    return { prefix: prefix.startsWith('+') ? prefix : `+${prefix}`, micros: toMicroUsd(usd) };
  });
  table.push({ prefix: '+1', micros: toMicroUsd(usPrice) });
  // Longest first; a configured '+1' comes before the base price's.
  return table.sort((a, b) => b.prefix.length - a.prefix.length);
}

/**
 * Area codes of `+1` outside the US mainland and Canada — the Caribbean, Bermuda, Sint Maarten,
 * the US territories — and premium `900`: Twilio prices them above the US rate (several times,
 * for some), so the `+1` price does not cover them.
 */
const NANP_OUTSIDE_US_CANADA = new Set([
  '242',
  '246',
  '264',
  '268',
  '284',
  '340',
  '345',
  '441',
  '473',
  '649',
  '658',
  '664',
  '670',
  '671',
  '684',
  '721',
  '758',
  '767',
  '784',
  '787',
  '809',
  '829',
  '849',
  '868',
  '869',
  '876',
  '900',
  '939',
]);

/**
 * The price for an E.164 number: the longest matching prefix, or `undefined` (unknown). A `+1`
 * entry never prices an area code of {@link NANP_OUTSIDE_US_CANADA}: a longer prefix (`+1876`) or
 * the `'+'` catch-all must.
 */
function priceFor(table: readonly PrefixPrice[], to: string): MicroUsd | undefined {
  const outsideUsCanada = to.startsWith('+1') && NANP_OUTSIDE_US_CANADA.has(to.slice(2, 5));
  return table.find(({ prefix }) => to.startsWith(prefix) && !(outsideUsCanada && prefix === '+1'))?.micros;
}

/**
 * A `To` as an E.164 number: a channel prefix (`sms:`, `whatsapp:`) dropped, `00` read as `+`.
 * Anything else (bare digits, SIP, client names) is `undefined`: it cannot be priced by prefix.
 */
function destination(raw: string | null): string | undefined {
  const to = (raw ?? '')
    .replace(/^(sms|mms|whatsapp):/i, '')
    .trim()
    .replace(/^00/, '+');
  return /^\+\d{4,15}$/.test(to) ? to : undefined;
}

/**
 * Why a message or call create's (or update's) parameters may not be what Twilio reads, or
 * `undefined`: some in the query string (the model reads the body only), or a body that is not
 * form-encoded.
 */
function unreadableParameters(request: CostRequest): string | undefined {
  if (request.query.size > 0) return 'parameters in the query string cannot be priced; send them in the body';
  return notFormEncoded(request);
}

/** What a call update may set and stay free: its status (hang up, cancel) and status callback. */
/** Lower-cased, as `caseless` gives them. */
const FREE_CALL_UPDATE = new Set(['status', 'statuscallback', 'statuscallbackmethod']);

/** TwiML verbs that cost nothing beyond the call's own minutes; any other may place or add billed work. */
const FREE_TWIML_VERBS = new Set(['response', 'say', 'play', 'pause', 'hangup', 'reject']);

/** SSML Twilio reads inside `<Say>`: speech, not verbs. */
const SSML_TAGS = new Set([
  'break',
  'emphasis',
  'lang',
  'p',
  'phoneme',
  'prosody',
  's',
  'say-as',
  'sub',
  'w',
  'amazon:domain',
  'amazon:effect',
]);

/**
 * A tag, its attributes read quote by quote (a `>` inside a quoted value does not end it). No
 * whitespace after `<` or `</`, nor between `/` and `>`, as in XML: whitespace allowed in two
 * neighbouring places would make an unclosed tag take quadratic time to reject.
 */
const TAG = /<(\/?)([A-Za-z][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;

/**
 * What in `twiml` may cost more than the call's own minutes — a verb outside
 * {@link FREE_TWIML_VERBS} (`<Dial>`, `<Record>`, `<Redirect>`…), a tag inside `<Say>` that is not
 * SSML, or markup this scanner cannot read for sure (a comment, CDATA, a stray `<`) — or
 * `undefined` if nothing does.
 */
/**
 * Call and participant options Twilio bills apart from the call's own `price` (a recording, by the
 * minute; answering-machine detection, per call), named as sent (Twilio reads names in any case).
 * Asking for none (`Record=false`, `ConferenceRecord=do-not-record`) costs nothing extra.
 */
function billedApart(form: URLSearchParams): string | undefined {
  for (const [name, value] of form) {
    const option = name.toLowerCase();
    const off = value.trim().toLowerCase();
    if (option === 'machinedetection') return name;
    if ((option === 'record' || option === 'conferencerecord') && off !== 'false' && off !== 'do-not-record')
      return name;
  }
  return undefined;
}

function costlyTwimlVerb(twiml: string): string | undefined {
  const text = twiml.replace(/^\s*<\?xml[^<>]*\?>/, '');
  if (text.includes('<!') || text.includes('<?')) return 'a comment, CDATA or processing instruction';
  let inSay = 0;
  let readTo = 0;
  for (const match of text.matchAll(TAG)) {
    if (text.slice(readTo, match.index).includes('<')) return 'markup it cannot read';
    readTo = match.index + match[0].length;
    const [, closing, name = '', , selfClosing] = match;
    if (name === 'Say') {
      if (closing) inSay = Math.max(0, inSay - 1);
      else if (!selfClosing) inSay += 1;
      continue;
    }
    if (inSay > 0) {
      if (SSML_TAGS.has(name.toLowerCase())) continue;
      return `<${name}> inside <Say>`;
    }
    if (!closing && !FREE_TWIML_VERBS.has(name.toLowerCase())) return `<${name}>`;
  }
  return text.slice(readTo).includes('<') ? 'markup it cannot read' : undefined;
}

/**
 * Why a write to a message, call or conference participant is refused outside the routes the
 * model prices (`POST`/`DELETE` on the `.json` route, as the official SDK sends), or `undefined`:
 * the same create sent extensionless or to `.xml`, or with another method, would not be priced.
 */
function otherRouteOf(method: string, path: string): string | undefined {
  if (!PRICED_RESOURCE.test(path.replace(/\.[^/]*$/, ''))) return undefined;
  if ((method === 'POST' || method === 'DELETE') && JSON_ROUTES.some((route) => route.test(path))) return undefined;
  return `Keybrake prices Twilio messages, calls and conference participants only as the official SDK sends them, POST or DELETE on the \`.json\` route; send this call that way`;
}

/** Malaysia's carriers take only ASCII in GSM-7 (Twilio's segment calculator, `UnicodeToGsmMY`). */
const segmentOptions = (to: string): SmsSegmentOptions => ({ asciiOnly: to.startsWith('+60') });

/** Whether `path` creates a message or a call (`Messages.json`, `Calls.json`, a conference's `Participants.json`). */
function isCreate(path: string): boolean {
  return MESSAGES.test(path) || CALLS.test(path) || PARTICIPANTS.test(path);
}

/**
 * The first of `names` given more than once, in any letter case (Twilio does not document which
 * value it uses), in a form read by {@link caseless}.
 */
function repeatedParameter(form: URLSearchParams, names: readonly string[]): string | undefined {
  return names.find((name) => form.getAll(name.toLowerCase()).length > 1);
}

/**
 * A form body with every parameter name in lower case. Twilio reads names in any case: `body`
 * alone is the message's `Body`, and `To` with `to` is a `To` given twice, not two parameters.
 */
function caseless(bodyText: string): URLSearchParams {
  const form = new URLSearchParams();
  for (const [name, value] of new URLSearchParams(bodyText)) form.append(name.toLowerCase(), value);
  return form;
}
