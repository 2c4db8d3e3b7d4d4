import type { FakeUpstream, FakeUpstreamOptions, RecordedRequest } from '../fake-upstream.js';
import { createIdempotencyStore } from '../http/create-idempotency-store.js';
import { createRouter } from '../http/create-router.js';
import type { FakeResponse } from '../http/fake-response.js';
import { FakeResponseError } from '../http/fake-response-error.js';
import { parseAuthorization } from '../http/parse-authorization.js';
import { startFakeServer } from '../http/start-fake-server.js';
import { emailRoutes, type FakeResendEmail, type ResendRouteContext } from './email-routes.js';
import { defaultResendFailure, resendError } from './resend-error.js';

/**
 * Options of {@link createFakeResend}. `secret` is the API key (`re_...`) requests must send as Bearer.
 *
 * @example
 * ```ts
 * const fake = await createFakeResend({ secret: 're_test_123' });
 * ```
 */
export interface FakeResendOptions extends FakeUpstreamOptions {
  /**
   * `last_event` that `GET /emails/:id` reports, e.g. `bounced` to test bounce handling.
   * @default 'delivered'
   */
  lastEvent?: string;
}

/**
 * A running fake Resend API.
 *
 * @example
 * ```ts
 * const fake = await createFakeResend();
 * process.env.RESEND_BASE_URL = fake.url; // the Resend SDK reads it
 * ```
 */
export interface FakeResend extends FakeUpstream {
  /** Emails accepted so far, oldest first, with recipient counts. */
  emails(): FakeResendEmail[];
}

const router = createRouter(emailRoutes);
const missingKey =
  "Missing API key in the authorization header. Include the following header 'Authorization: Bearer YOUR_API_KEY' in the request.";

function authenticate(request: RecordedRequest, secret: string | undefined): void {
  if (secret === undefined) return;
  const credentials = parseAuthorization(request.headers.authorization);
  if (credentials?.scheme !== 'bearer') throw resendError(401, 'missing_api_key', missingKey);
  if (credentials.token !== secret) throw resendError(401, 'validation_error', 'API key is invalid');
}

function jsonBody(request: RecordedRequest): unknown {
  if (request.method === 'GET') return undefined;
  if (request.json !== undefined) return request.json;
  try {
    return JSON.parse(request.body);
  } catch {
    throw resendError(400, 'validation_error', 'The request body is not valid JSON.');
  }
}

/**
 * Starts a loopback fake of the Resend API: sends single and batch emails answering with Resend's JSON, retrieves
 * them, replays `Idempotency-Key` retries and records every request.
 *
 * @param options - Listen, auth, latency and fault options.
 * @returns The running fake; call `close()` when done.
 * @throws When the server cannot listen.
 * @example
 * ```ts
 * const fake = await createFakeResend({ secret: 're_123' });
 * await fetch(`${fake.url}/emails`, {
 *   method: 'POST',
 *   headers: { authorization: 'Bearer re_123', 'content-type': 'application/json' },
 *   body: JSON.stringify({ from: 'a@example.com', to: ['b@example.com'], subject: 'Hi', text: 'Hello' }),
 * });
 * fake.emails()[0]?.recipients; // 1
 * await fake.close();
 * ```
 */
export async function createFakeResend(options: FakeResendOptions = {}): Promise<FakeResend> {
  const { secret, lastEvent = 'delivered' } = options;
  const emails: ResendRouteContext['emails'] = new Map();
  const idempotency = createIdempotencyStore();

  function handle(request: RecordedRequest): FakeResponse {
    try {
      authenticate(request, secret);
      const match = router.match(request.method, request.pathname);
      if (!match) throw resendError(404, 'not_found', 'The requested endpoint does not exist.');
      const json = jsonBody(request);
      const key = request.method === 'POST' ? request.headers['idempotency-key'] : undefined;
      const endpoint = `${request.method} ${request.pathname}`;
      const payload = JSON.stringify(json);
      if (key !== undefined) {
        if (key.length < 1 || key.length > 256) {
          throw resendError(400, 'invalid_idempotency_key', 'The key must be between 1-256 chars.');
        }
        const found = idempotency.lookup({ key, endpoint, payload });
        if (found.kind === 'replay') return found.response;
        if (found.kind !== 'miss') {
          throw resendError(
            409,
            'invalid_idempotent_request',
            'Same idempotency key used with a different request payload. Change your idempotency key or payload.',
          );
        }
      }
      const body = structuredClone(
        match.handler({ params: match.params, json, headers: request.headers, emails, lastEvent }),
      );
      const response: FakeResponse = { status: 200, body };
      if (key !== undefined) idempotency.save({ key, endpoint, payload, response });
      return response;
    } catch (error) {
      if (!(error instanceof FakeResponseError)) throw error;
      return error.response;
    }
  }

  const upstream = await startFakeServer({
    ...options,
    vendor: {
      handle,
      failure: (status, body, detail) => ({ status, body: body ?? defaultResendFailure(status, detail) }),
      reset: () => {
        emails.clear();
        idempotency.clear();
      },
    },
  });

  return Object.assign(upstream, {
    emails: () => [...emails.values()].map(({ info }) => structuredClone(info)),
  });
}
