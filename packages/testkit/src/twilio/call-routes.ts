import { randomHex } from '../http/random-id.js';
import { twilioError } from './twilio-error.js';
import {
  type FakeTwilioCall,
  type TwilioRoute,
  type TwilioRouteContext,
  twilioDate,
  twilioPrice,
} from './twilio-route.js';

function createCall({ params, form, calls, pricing, now }: TwilioRouteContext) {
  const accountSid = params.accountSid ?? '';
  const to = form.get('To');
  const from = form.get('From');
  if (!to) throw twilioError(400, 21201, "No 'To' number is specified");
  if (!from) throw twilioError(400, 21213, "No 'From' number is specified");
  if (!form.get('Url') && !form.get('Twiml') && !form.get('ApplicationSid')) {
    throw twilioError(
      400,
      21205,
      'Url parameter is required. For more information, see http://www.twilio.com/docs/api/twiml',
    );
  }
  const limit = Number.parseInt(form.get('TimeLimit') ?? '', 10);
  const durationSeconds = Number.isNaN(limit)
    ? pricing.callDurationSeconds
    : Math.max(0, Math.min(limit, pricing.callDurationSeconds));
  const sid = `CA${randomHex(32)}`;
  const info: FakeTwilioCall = {
    sid,
    accountSid,
    to,
    from,
    durationSeconds,
    price: twilioPrice(pricing.pricePerMinute, Math.ceil(durationSeconds / 60)),
    priceUnit: 'USD',
    status: 'queued',
  };
  const uri = `/2010-04-01/Accounts/${accountSid}/Calls/${sid}`;
  const subresources = ['Notifications', 'Recordings', 'Payments', 'Events', 'Siprec', 'Streams', 'Transcriptions'];
  const json: Record<string, unknown> = {
    account_sid: accountSid,
    annotation: null,
    answered_by: null,
    api_version: '2010-04-01',
    caller_name: null,
    date_created: twilioDate(now),
    date_updated: twilioDate(now),
    direction: 'outbound-api',
    duration: null,
    end_time: null,
    forwarded_from: null,
    from,
    from_formatted: from,
    group_sid: null,
    parent_call_sid: null,
    phone_number_sid: null,
    price: null,
    price_unit: 'USD',
    queue_time: '0',
    sid,
    start_time: null,
    status: 'queued',
    subresource_uris: Object.fromEntries(subresources.map((name) => [name.toLowerCase(), `${uri}/${name}.json`])),
    to,
    to_formatted: to,
    trunk_sid: null,
    uri: `${uri}.json`,
  };
  calls.set(sid, { info, json });
  return { status: 201, body: json };
}

function fetchCall({ params, calls, now }: TwilioRouteContext) {
  const found = calls.get(params.sid ?? '');
  if (!found || found.info.accountSid !== params.accountSid) {
    throw twilioError(
      404,
      20404,
      `The requested resource /2010-04-01/Accounts/${params.accountSid}/Calls/${params.sid}.json was not found`,
    );
  }
  if (found.info.status !== 'completed') {
    found.info.status = 'completed';
    Object.assign(found.json, {
      date_updated: twilioDate(now),
      duration: String(found.info.durationSeconds),
      end_time: twilioDate(now),
      price: found.info.price,
      start_time: twilioDate(now - found.info.durationSeconds * 1000),
      status: 'completed',
    });
  }
  return { status: 200, body: found.json };
}

/**
 * Fake Twilio Calls routes: place (`POST Calls.json`) and fetch (`GET Calls/{Sid}.json`, which reports the call
 * completed with its duration and price).
 *
 * @example
 * ```ts
 * const router = createRouter([...callRoutes]);
 * ```
 */
export const callRoutes: readonly TwilioRoute[] = [
  { method: 'POST', pattern: '/2010-04-01/Accounts/:accountSid/Calls.json', handler: createCall },
  { method: 'GET', pattern: '/2010-04-01/Accounts/:accountSid/Calls/:sid.json', handler: fetchCall },
];
