import type { FakeUpstream, FakeUpstreamOptions, RecordedRequest } from '../fake-upstream.js';
import { createRouter } from '../http/create-router.js';
import type { FakeResponse } from '../http/fake-response.js';
import { FakeResponseError } from '../http/fake-response-error.js';
import { parseAuthorization } from '../http/parse-authorization.js';
import { randomHex } from '../http/random-id.js';
import { startFakeServer } from '../http/start-fake-server.js';
import { callRoutes } from './call-routes.js';
import { messageRoutes } from './message-routes.js';
import { defaultTwilioFailure, twilioError } from './twilio-error.js';
import type { FakeTwilioCall, FakeTwilioMessage, TwilioRouteContext } from './twilio-route.js';

/**
 * Options of {@link createFakeTwilio}. `secret` is the account's auth token.
 *
 * @example
 * ```ts
 * const fake = await createFakeTwilio({ accountSid: 'AC123', secret: 'token', pricePerSegment: '0.0079' });
 * ```
 */
export interface FakeTwilioOptions extends FakeUpstreamOptions {
  /**
   * The account SID. When set, requests to another account's path get 404; when unset, any path account is served.
   * @default a random `AC` + 32 hex, exposed as `fake.accountSid`
   */
  accountSid?: string;
  /** API keys accepted as Basic credentials, SID (`SK...`) to secret. Setting any requires authentication. */
  apiKeys?: Record<string, string>;
  /**
   * USD per SMS segment.
   * @default '0.0083'
   */
  pricePerSegment?: string;
  /**
   * USD per MMS message (any `MediaUrl`).
   * @default '0.0200'
   */
  mmsPricePerMessage?: string;
  /**
   * USD per started call minute.
   * @default '0.0140'
   */
  pricePerMinute?: string;
  /**
   * How long every call lasts before `TimeLimit` caps it, in seconds.
   * @default 60
   */
  callDurationSeconds?: number;
}

/**
 * A running fake Twilio REST API (2010-04-01 Messages and Calls).
 *
 * @example
 * ```ts
 * const fake = await createFakeTwilio({ accountSid: 'AC123' });
 * const response = await fetch(`${fake.url}/2010-04-01/Accounts/AC123/Calls/CA0.json`);
 * response.status; // 404, Twilio's { code: 20404, ... }
 * ```
 */
export interface FakeTwilio extends FakeUpstream {
  /** The configured (or generated) account SID. */
  accountSid: string;
  /** Messages accepted so far, oldest first, with computed segments and final price. */
  messages(): FakeTwilioMessage[];
  /** Calls accepted so far, oldest first, with duration and final price. */
  calls(): FakeTwilioCall[];
}

const router = createRouter([...messageRoutes, ...callRoutes]);

/**
 * Starts a loopback fake of the Twilio REST API: sends SMS/MMS and places calls answering with Twilio's JSON,
 * counts SMS segments (GSM-7 / UCS-2), and on fetch reports them delivered/completed with the billed price.
 *
 * @param options - Listen, auth, pricing, latency and fault options.
 * @returns The running fake; call `close()` when done.
 * @throws When the server cannot listen.
 * @example
 * ```ts
 * const fake = await createFakeTwilio({ accountSid: 'AC123', secret: 'token' });
 * await fetch(`${fake.url}/2010-04-01/Accounts/AC123/Messages.json`, {
 *   method: 'POST',
 *   headers: { authorization: `Basic ${btoa('AC123:token')}`, 'content-type': 'application/x-www-form-urlencoded' },
 *   body: new URLSearchParams({ To: '+15005550006', From: '+15005550001', Body: 'Hi' }),
 * });
 * fake.messages()[0]?.price; // '-0.00830'
 * await fake.close();
 * ```
 */
export async function createFakeTwilio(options: FakeTwilioOptions = {}): Promise<FakeTwilio> {
  const { secret, apiKeys = {} } = options;
  const accountSid = options.accountSid ?? `AC${randomHex(32)}`;
  const pricing = {
    pricePerSegment: options.pricePerSegment ?? '0.0083',
    mmsPricePerMessage: options.mmsPricePerMessage ?? '0.0200',
    pricePerMinute: options.pricePerMinute ?? '0.0140',
    callDurationSeconds: options.callDurationSeconds ?? 60,
  };
  const messages: TwilioRouteContext['messages'] = new Map();
  const calls: TwilioRouteContext['calls'] = new Map();

  function authenticate(request: RecordedRequest, pathSid: string | undefined): void {
    if (secret === undefined && Object.keys(apiKeys).length === 0) return;
    const credentials = parseAuthorization(request.headers.authorization);
    if (credentials?.scheme === 'basic') {
      const account = options.accountSid ?? pathSid ?? accountSid;
      if (secret !== undefined && credentials.username === account && credentials.password === secret) return;
      if (Object.hasOwn(apiKeys, credentials.username) && apiKeys[credentials.username] === credentials.password)
        return;
    }
    const error = twilioError(401, 20003, 'Authenticate');
    error.response.headers = { 'www-authenticate': 'Basic realm="Twilio API"' };
    throw error;
  }

  function handle(request: RecordedRequest): FakeResponse {
    const headers = { 'twilio-request-id': `RQ${randomHex(32)}` };
    try {
      const pathSid = /^\/2010-04-01\/Accounts\/([^/.]+)/.exec(request.pathname)?.[1];
      authenticate(request, pathSid);
      const match = router.match(request.method, request.pathname);
      if (!match || (options.accountSid !== undefined && pathSid !== options.accountSid)) {
        throw twilioError(404, 20404, `The requested resource ${request.pathname} was not found`);
      }
      const form = new URLSearchParams(request.method === 'GET' ? '' : request.body);
      const now = Date.now();
      const answer = match.handler({ params: match.params, form, messages, calls, pricing, now });
      return { status: answer.status, body: structuredClone(answer.body), headers };
    } catch (error) {
      if (!(error instanceof FakeResponseError)) throw error;
      return { ...error.response, headers: { ...headers, ...error.response.headers } };
    }
  }

  const upstream = await startFakeServer({
    ...options,
    vendor: {
      handle,
      failure: (status, body, detail) => ({
        status,
        body: body ?? defaultTwilioFailure(status, detail),
        headers: { 'twilio-request-id': `RQ${randomHex(32)}` },
      }),
      reset: () => {
        messages.clear();
        calls.clear();
      },
    },
  });

  return Object.assign(upstream, {
    accountSid,
    messages: () => [...messages.values()].map(({ info }) => structuredClone(info)),
    calls: () => [...calls.values()].map(({ info }) => structuredClone(info)),
  });
}
