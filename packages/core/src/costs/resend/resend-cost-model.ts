import { z } from 'zod';
import { type MicroUsd, toMicroUsd } from '../../money/micro-usd.js';
import { type EndpointPattern, matchesEndpoint, parseEndpointPattern } from '../../paths/endpoint-matcher.js';
import type { CostEstimate, CostModel, CostRequest, CostSettlement } from '../cost-model.js';
import { mediaTypeOf } from '../not-form-encoded.js';

/** Options of {@link createResendCostModel}. */
export interface ResendCostOptions {
  /**
   * Price of one email, counted per recipient (every `to`, `cc` and `bcc` address), in USD.
   * @default '0.0009' ($0.90 per 1,000: Resend's published overage rate)
   */
  perEmailUsd?: number | string;
  /**
   * More endpoints that cost nothing, as allow-list patterns. Every POST/PATCH/PUT/DELETE that is
   * neither here, nor in the built-in zero-cost table, nor a priced endpoint is `unknown` (fail closed).
   * @default []
   * @example ['POST /webhooks', 'DELETE /webhooks/*']
   */
  zeroCostEndpoints?: readonly string[];
}

/** Resend's documented maximum number of emails in one `POST /emails/batch`. */
const MAX_BATCH = 100;

/** Endpoints that manage things without sending anything. */
const BUILTIN_ZERO_COST = [
  'PATCH /emails/*',
  'POST /emails/*/cancel',
  'POST /domains',
  'PATCH /domains/*',
  'POST /domains/*/verify',
  'DELETE /domains/*',
  'POST /audiences',
  'DELETE /audiences/*',
  'POST /audiences/*/contacts',
  'PATCH /audiences/*/contacts/*',
  'DELETE /audiences/*/contacts/*',
  'POST /contacts',
  'PATCH /contacts/*',
  'DELETE /contacts/*',
  'POST /segments',
  'DELETE /segments/*',
  'POST /broadcasts',
  'PATCH /broadcasts/*',
  'DELETE /broadcasts/*',
];

// No `.catch`: an address field that is there but unreadable (`[null]`, `[[…]]`) fails the parse,
// so the email is `unknown`, not counted without it.
const addresses = z.union([z.string(), z.array(z.string())]).nullish();
const emailSchema = z.object({ to: addresses, cc: addresses, bcc: addresses });
const batchResponseSchema = z.object({
  data: z.array(z.unknown()).nullish().catch(undefined),
  errors: z
    .array(z.object({ index: z.number().int().nullish().catch(undefined) }))
    .nullish()
    .catch(undefined),
});

type Counted = { ok: true; recipients: number[] } | { ok: false; reason: string };

const known = (micros: MicroUsd, note?: string): CostEstimate & CostSettlement =>
  note === undefined ? { kind: 'known', micros } : { kind: 'known', micros, note };

/**
 * Counts the recipients of one Resend email body: every `to`, `cc` and `bcc` address (a string
 * with commas or semicolons counts each part, so that nothing is undercounted).
 *
 * @param email - One parsed email object, as sent to `POST /emails`.
 * @returns The number of recipients; 0 when `to` is missing, or any of the three is unreadable.
 * @example
 * ```ts
 * countResendRecipients({ to: ['a@x.dev', 'b@x.dev'], cc: 'c@x.dev' }); // 3
 * ```
 */
export function countResendRecipients(email: unknown): number {
  const read = readRecipients(email);
  return read === undefined || read.to === 0 ? 0 : read.to + read.others;
}

/** The `to` and the `cc` + `bcc` addresses of one email, or `undefined` when any of them is unreadable. */
function readRecipients(email: unknown): { to: number; others: number } | undefined {
  const parsed = emailSchema.safeParse(email);
  if (!parsed.success) return undefined;
  const count = (value: string | string[] | null | undefined): number =>
    (value === null || value === undefined ? [] : Array.isArray(value) ? value : [value])
      // Commas, and semicolons as some address parsers also split on: more is the safe side.
      .flatMap((entry) => entry.split(/[,;]/))
      .filter((entry) => entry.trim() !== '').length;
  return { to: count(parsed.data.to), others: count(parsed.data.cc) + count(parsed.data.bcc) };
}

/**
 * Creates the cost model of the Resend API. `POST /emails` costs one email per recipient (`to`,
 * `cc`, `bcc`) × `perEmailUsd`; `POST /emails/batch` sums that over its emails. A send whose body
 * cannot be read safely (not JSON, a key sent twice or spelt otherwise, an unreadable or missing
 * `to`, more than 100 emails in a batch) is `unknown` with `fallback: false`: denied even on a key
 * with a fallback estimate. Reads cost 0, as do managing domains, audiences, contacts and
 * broadcast drafts and cancelling or rescheduling an email; every other write is `unknown` (fail
 * closed). Sending a broadcast (`POST /broadcasts/{id}/send`, or `POST /broadcasts` with `send` or
 * `scheduled_at`) goes to a whole segment: `unknown` with `fallback: false`, denied even on a key
 * with a fallback estimate. An inbox thread's email forwarded is priced as `POST /emails`; replied to,
 * as its sender plus every `to`, `cc` and `bcc`; a reply to all, an inbox draft sent and
 * `POST /events/send` (automations) go to recipients the call does not name: `unknown` with
 * `fallback: false`. Settlement: 2xx → the estimate (for a permissive batch, only the emails that were
 * accepted), 4xx → 0, 5xx → the estimate (Resend may have sent it).
 *
 * @param options - Price per email and extra zero-cost endpoints; see {@link ResendCostOptions}.
 * @returns The {@link CostModel}.
 * @throws {InvalidPolicyError} if the price or a pattern is malformed.
 * @example
 * ```ts
 * const model = createResendCostModel({ perEmailUsd: '0.001' });
 * model.estimate(request, context); // { kind: 'known', micros: 3_000, note: '3 recipients' }
 * ```
 */
export function createResendCostModel(options: ResendCostOptions = {}): CostModel {
  const perEmail = toMicroUsd(options.perEmailUsd ?? '0.0009');
  const zeroCost: EndpointPattern[] = [...BUILTIN_ZERO_COST, ...(options.zeroCostEndpoints ?? [])].map((source) =>
    parseEndpointPattern(source),
  );

  /** @param send - What the call sends, as {@link sendOf} reads its path. */
  const count = (request: CostRequest, send: Send): Counted => {
    const odd = oddJson(request);
    if (odd) return { ok: false, reason: odd };
    const body = request.json();
    if (send === 'email' || send === 'forward') {
      const recipients = countResendRecipients(body);
      return recipients === 0
        ? { ok: false, reason: 'the email has no readable `to` recipient' }
        : { ok: true, recipients: [recipients] };
    }
    if (send === 'reply') {
      const read = readRecipients(body);
      if (read === undefined) return { ok: false, reason: 'the reply has unreadable recipients' };
      const replyAll = (body as { reply_all?: unknown }).reply_all;
      if (replyAll !== undefined && replyAll !== null && replyAll !== false) {
        return {
          ok: false,
          reason:
            'a reply to all goes to recipients of the thread that the call does not name; reply to the sender with `cc`, or send with POST /emails',
        };
      }
      // The sender of the email replied to, and every address the call adds.
      return { ok: true, recipients: [1 + read.to + read.others] };
    }
    if (!Array.isArray(body)) return { ok: false, reason: 'the batch body is not a JSON array of emails' };
    if (body.length === 0) return { ok: false, reason: 'the batch is empty' };
    if (body.length > MAX_BATCH) {
      return { ok: false, reason: `a batch of ${body.length} emails is over Resend's limit of ${MAX_BATCH}` };
    }
    const read = body.map((email) => readRecipients(email));
    const unreadable = read.indexOf(undefined);
    if (unreadable >= 0) return { ok: false, reason: `email ${unreadable} of the batch has unreadable recipients` };
    // An email without `to` is refused by Resend (the batch with it, unless permissive): it sends
    // nothing, but its `cc` and `bcc` are counted anyway, the safe side.
    return { ok: true, recipients: read.map((email) => (email ? email.to + email.others : 0)) };
  };

  const describe = (recipients: number[]) => {
    const total = recipients.reduce((sum, n) => sum + n, 0);
    const emails = recipients.length > 1 ? ` in ${recipients.length} emails` : '';
    return { total, note: `${total} recipient${total === 1 ? '' : 's'}${emails}` };
  };

  return {
    estimate(request) {
      const method = request.method.toUpperCase();
      if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return known(0);
      const path = request.path.toLowerCase();
      const send = sendOf(method, path);
      if (send) {
        const counted = count(request, send);
        // Such a body is refused by Resend or never sent by resend-node: a fixed fallback estimate
        // cannot stand for it (100 emails of 150 recipients each would pass at $0.01).
        if (!counted.ok) return { kind: 'unknown', reason: counted.reason, fallback: false };
        const { total, note } = describe(counted.recipients);
        return known(total * perEmail, note);
      }
      // A broadcast goes to a whole segment, of a size the call does not say: no fixed fallback
      // estimate can stand for it (a $0.01 fallback would send to 50,000 contacts).
      const broadcast = broadcastSend(method, request, path);
      if (broadcast) return { kind: 'unknown', reason: broadcast, fallback: false };
      // So does an inbox's draft (its recipients were set by an earlier call) and an event that
      // starts automations (they email whichever contacts they target).
      const unnamed = unnamedRecipients(method, path);
      if (unnamed) return { kind: 'unknown', reason: unnamed, fallback: false };
      if (zeroCost.some((pattern) => matchesEndpoint(pattern, method, request.path)))
        return known(0, 'zero-cost endpoint');
      return { kind: 'unknown', reason: `${method} ${request.path} is not a Resend endpoint Keybrake can price` };
    },

    settle(request, response, estimate) {
      const method = request.method.toUpperCase();
      if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return known(0);
      const path = request.path.toLowerCase();
      const send = sendOf(method, path);
      // A sending `POST /broadcasts` matches the zero-cost pattern of a draft, but is not one.
      const moneyMoving =
        send !== undefined ||
        broadcastSend(method, request, path) !== undefined ||
        !zeroCost.some((pattern) => matchesEndpoint(pattern, method, request.path));
      const keep = (note?: string): CostSettlement =>
        estimate.kind === 'known' ? known(estimate.micros, note ?? estimate.note) : estimate;
      if (response.status >= 500 && moneyMoving)
        return keep(`Resend answered ${response.status}: outcome unknown, estimate kept`);
      if (response.status < 200 || response.status >= 300)
        return known(0, `Resend answered ${response.status}: nothing sent`);
      if (send !== 'batch') return keep();
      // A permissive batch reports the emails it refused by index; only the others were sent.
      const parsed = batchResponseSchema.safeParse(response.json);
      const refused = new Set(
        (parsed.success ? (parsed.data.errors ?? []) : [])
          .map((error) => error.index)
          .filter((index): index is number => typeof index === 'number'),
      );
      const counted = count(request, send);
      if (refused.size === 0 || !counted.ok) return keep();
      const sent = counted.recipients.filter((_, index) => !refused.has(index));
      const { total, note } = describe(sent);
      return known(total * perEmail, `${note} (${refused.size} refused)`);
    },
  };
}

/**
 * What a call sends, priced per recipient: an email (`POST /emails`), a batch, or an inbox thread's
 * email forwarded or replied to (resend-node's `inboxes.threads.emails.forward` / `.reply`).
 */
type Send = 'email' | 'batch' | 'forward' | 'reply';

const INBOX_SEND = /^\/inboxes\/[^/]+\/threads\/[^/]+\/emails\/[^/]+\/(forward|reply)$/;
const INBOX_DRAFT_SEND = /^\/inboxes\/[^/]+\/drafts\/[^/]+\/send$/;

/**
 * The {@link Send} a call makes, or `undefined`. `path` is in lower case: should Resend route
 * `/Emails` as it does `/emails`, a send priced as unknown would pass at a key's fallback estimate.
 */
function sendOf(method: string, path: string): Send | undefined {
  if (method !== 'POST') return undefined;
  if (path === '/emails') return 'email';
  if (path === '/emails/batch') return 'batch';
  const inbox = INBOX_SEND.exec(path);
  return inbox ? (inbox[1] as 'forward' | 'reply') : undefined;
}

/** Why a call sends email to recipients it does not name, or `undefined`; `path` is in lower case. */
function unnamedRecipients(method: string, path: string): string | undefined {
  if (method !== 'POST') return undefined;
  if (INBOX_DRAFT_SEND.test(path)) {
    return "an inbox draft's recipients were set by an earlier call; send the email with POST /emails, which Keybrake prices per recipient";
  }
  if (path === '/events/send') {
    return 'an event starts automations that email the contacts they target, a number the call does not say';
  }
  return undefined;
}

/** A JSON string (group 1), and the colon that makes it an object key (group 2); or a brace. */
const JSON_TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|[{}]/g;
/** Keys whose value is priced: another spelling of one of them may be read as it. */
const PRICED_KEYS = new Set(['to', 'cc', 'bcc', 'send', 'scheduled_at', 'reply_all']);

/**
 * Why Resend might read a JSON body otherwise than `JSON.parse` does, or `undefined`: a
 * `Content-Type` that is not JSON (resend-node always sends `application/json`; a missing one is
 * read as JSON), a key sent twice in one object (`JSON.parse` keeps the last, other parsers the
 * first; `"\u0074o"` is `to` too), or an email's priced key in another case or with spaces (`"Bcc"`).
 */
function oddJson(request: CostRequest): string | undefined {
  const media = mediaTypeOf(request);
  if (media && media !== 'application/json' && !media.endsWith('+json')) {
    return `a ${media.slice(0, 60)} body cannot be priced; send it as application/json`;
  }
  // Only valid JSON is scanned: every string in it is closed, so the scan is linear (an unclosed
  // string full of `\"` would make the pattern retry from every quote).
  if (request.json() === undefined) return 'the body is not valid JSON';
  const objects: Array<Set<string>> = [];
  for (const [token, string, colon] of request.bodyText.matchAll(JSON_TOKEN)) {
    if (token === '{') objects.push(new Set());
    else if (token === '}') objects.pop();
    else if (colon !== undefined && string !== undefined) {
      let key: string;
      try {
        key = JSON.parse(string) as string;
      } catch {
        return 'the body is not valid JSON';
      }
      const keys = objects.at(-1);
      if (keys?.has(key)) return `the key ${JSON.stringify(key.slice(0, 40))} is sent twice`;
      keys?.add(key);
      // Only an email's own keys (the outermost object, or each of a batch's): nested ones are the
      // sender's to name (`headers: { Cc: … }`, template variables).
      const plain = key.trim().toLowerCase();
      if (objects.length === 1 && plain !== key && PRICED_KEYS.has(plain))
        return `the key ${JSON.stringify(key.slice(0, 40))} can be read otherwise`;
    }
  }
  return undefined;
}

const BROADCAST_SEND = parseEndpointPattern('POST /broadcasts/*/send');

/**
 * Why a call sends a broadcast, or `undefined`: `POST /broadcasts/{id}/send` (now or scheduled),
 * or `POST /broadcasts` whose body sends or schedules it at creation, or that cannot be read
 * safely; `path` is the request's in lower case.
 */
function broadcastSend(method: string, request: CostRequest, path: string): string | undefined {
  const fix = 'send the emails with POST /emails or /emails/batch, which Keybrake prices per recipient';
  if (matchesEndpoint(BROADCAST_SEND, method, path)) {
    return `a broadcast to a segment cannot be priced; ${fix}`;
  }
  if (method !== 'POST' || path !== '/broadcasts') return undefined;
  const odd = oddJson(request);
  if (odd) return odd;
  if (sendsBroadcast(request.json())) return `a broadcast to a segment cannot be priced; ${fix}`;
  return undefined;
}

/** Whether a broadcast's JSON body sends it (`send: true`) or schedules it (`scheduled_at`) at creation; unreadable counts as yes. */
function sendsBroadcast(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return true;
  const fields = body as Record<string, unknown>;
  const sends = fields.send !== undefined && fields.send !== false;
  return sends || (fields.scheduled_at !== undefined && fields.scheduled_at !== null);
}
