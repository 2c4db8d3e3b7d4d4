import { randomHex } from '../http/random-id.js';
import { countSmsSegments } from './count-sms-segments.js';
import { twilioError } from './twilio-error.js';
import {
  type FakeTwilioMessage,
  type TwilioRoute,
  type TwilioRouteContext,
  twilioDate,
  twilioPrice,
} from './twilio-route.js';

const maxBodyLength = 1600;

function createMessage({ params, form, messages, pricing, now }: TwilioRouteContext) {
  const accountSid = params.accountSid ?? '';
  const to = form.get('To');
  const from = form.get('From') || null;
  const messagingServiceSid = form.get('MessagingServiceSid') || null;
  const body = form.get('Body') ?? '';
  const mediaUrls = form.getAll('MediaUrl').filter((url) => url !== '');
  if (!to) throw twilioError(400, 21604, "A 'To' phone number is required.");
  if (!from && !messagingServiceSid) throw twilioError(400, 21603, "A 'From' phone number is required.");
  if (!body && mediaUrls.length === 0) throw twilioError(400, 21602, 'Message body is required.');
  if (body.length > maxBodyLength) {
    throw twilioError(400, 21617, `The concatenated message body exceeds the ${maxBodyLength} character limit.`);
  }
  const sid = `SM${randomHex(32)}`;
  const { encoding, segments: smsSegments } = countSmsSegments(body);
  const mms = mediaUrls.length > 0;
  const segments = mms ? 1 : smsSegments;
  const status = from ? 'queued' : 'accepted';
  const info: FakeTwilioMessage = {
    sid,
    accountSid,
    to,
    from,
    messagingServiceSid,
    body,
    mediaUrls,
    encoding,
    segments,
    price: mms ? twilioPrice(pricing.mmsPricePerMessage, 1) : twilioPrice(pricing.pricePerSegment, segments),
    priceUnit: 'USD',
    status,
  };
  const uri = `/2010-04-01/Accounts/${accountSid}/Messages/${sid}`;
  const json: Record<string, unknown> = {
    account_sid: accountSid,
    api_version: '2010-04-01',
    body,
    date_created: twilioDate(now),
    date_sent: null,
    date_updated: twilioDate(now),
    direction: 'outbound-api',
    error_code: null,
    error_message: null,
    from,
    messaging_service_sid: messagingServiceSid,
    num_media: String(mediaUrls.length),
    num_segments: String(segments),
    price: null,
    price_unit: 'USD',
    sid,
    status,
    subresource_uris: { media: `${uri}/Media.json` },
    to,
    uri: `${uri}.json`,
  };
  messages.set(sid, { info, json });
  return { status: 201, body: json };
}

/** Once read back, a message is delivered and has its price, as Twilio reports a while after sending. */
function deliver(found: { info: FakeTwilioMessage; json: Record<string, unknown> }, now: number) {
  if (found.info.status === 'delivered') return;
  found.info.status = 'delivered';
  Object.assign(found.json, {
    date_sent: twilioDate(now),
    date_updated: twilioDate(now),
    price: found.info.price,
    status: 'delivered',
  });
}

function fetchMessage({ params, messages, now }: TwilioRouteContext) {
  const found = messages.get(params.sid ?? '');
  if (!found || found.info.accountSid !== params.accountSid) {
    throw twilioError(
      404,
      20404,
      `The requested resource /2010-04-01/Accounts/${params.accountSid}/Messages/${params.sid}.json was not found`,
    );
  }
  deliver(found, now);
  return { status: 200, body: found.json };
}

/** One page holding every message of the account, newest first (query filters are not applied). */
function listMessages({ params, messages, now }: TwilioRouteContext) {
  const uri = `/2010-04-01/Accounts/${params.accountSid}/Messages.json`;
  const page = [...messages.values()].filter((found) => found.info.accountSid === params.accountSid).reverse();
  for (const found of page) deliver(found, now);
  return {
    status: 200,
    body: {
      end: Math.max(page.length - 1, 0),
      first_page_uri: `${uri}?PageSize=50&Page=0`,
      messages: page.map((found) => found.json),
      next_page_uri: null,
      page: 0,
      page_size: 50,
      previous_page_uri: null,
      start: 0,
      uri: `${uri}?PageSize=50&Page=0`,
    },
  };
}

/**
 * Fake Twilio Messages routes: send (`POST Messages.json`, SMS or MMS), fetch (`GET Messages/{Sid}.json`) and
 * list (`GET Messages.json`, one page of them all); a message read back is reported delivered, with its price.
 *
 * @example
 * ```ts
 * const router = createRouter([...messageRoutes]);
 * ```
 */
export const messageRoutes: readonly TwilioRoute[] = [
  { method: 'POST', pattern: '/2010-04-01/Accounts/:accountSid/Messages.json', handler: createMessage },
  { method: 'GET', pattern: '/2010-04-01/Accounts/:accountSid/Messages.json', handler: listMessages },
  { method: 'GET', pattern: '/2010-04-01/Accounts/:accountSid/Messages/:sid.json', handler: fetchMessage },
];
