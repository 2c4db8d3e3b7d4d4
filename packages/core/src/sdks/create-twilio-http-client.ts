import { EndpointNotAllowedError } from '../errors/endpoint-not-allowed-error.js';
import { parseVaultKey } from '../keys/vault-key-format.js';
import { twilioErrorResponse } from '../vendors/twilio-vendor.js';

/** The request options twilio-node passes to its `httpClient.request` (a structural subset). */
export interface TwilioHttpRequestOptions {
  method: string;
  uri: string;
  username?: string;
  password?: string;
  headers?: Record<string, string>;
  params?: Record<string, unknown>;
  data?: Record<string, unknown> | string;
  timeout?: number;
}

/** What twilio-node expects back from `httpClient.request`. */
export interface TwilioHttpResponse {
  statusCode: number;
  body: unknown;
  headers: Record<string, string>;
}

/** A twilio-node compatible `httpClient`. */
export interface TwilioHttpClient {
  request(options: TwilioHttpRequestOptions): Promise<TwilioHttpResponse>;
}

function appendAll(target: URLSearchParams, values: Record<string, unknown> | undefined): void {
  for (const [name, value] of Object.entries(values ?? {})) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) target.append(name, String(item));
    else target.append(name, value instanceof Date ? value.toISOString() : String(value));
  }
}

/** Options of {@link createTwilioHttpClient}. */
export interface TwilioHttpClientOptions {
  /** The fetch to send with: a capped fetch (embedded mode). @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** Replaces `https://<host>.twilio.com` in every URL: a Keybrake proxy's URL (proxy mode). */
  baseUrl?: string | undefined;
}

/**
 * Creates an `httpClient` for the official `twilio` SDK that sends every request through a fetch
 * — a capped fetch (embedded mode) or plain `fetch` to a Keybrake proxy (`baseUrl`). It makes
 * exactly one request per call: no automatic 429 retries, so a denied call stays denied. Pass
 * `twilio.RequestClient` to get an instance of the SDK's own class (its type is what
 * `twilio(…, { httpClient })` expects) with `request` replaced.
 *
 * @example
 * ```ts
 * import twilio from 'twilio';
 * const client = twilio('AC00000000000000000000000000000000', member.key('twilio').vaultKey, {
 *   httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: member.fetch('twilio') }),
 * });
 * ```
 */
export function createTwilioHttpClient<T extends object>(
  RequestClient: new () => T,
  options?: TwilioHttpClientOptions,
): T;
export function createTwilioHttpClient(options?: TwilioHttpClientOptions): TwilioHttpClient;
export function createTwilioHttpClient<T extends object>(
  first?: (new () => T) | TwilioHttpClientOptions,
  second?: TwilioHttpClientOptions,
): T | TwilioHttpClient {
  if (typeof first === 'function') {
    const client = new first();
    Object.assign(client, { request: fetchRequest(second ?? {}) });
    return client;
  }
  return { request: fetchRequest(first ?? {}) };
}

function fetchRequest(options: TwilioHttpClientOptions): TwilioHttpClient['request'] {
  const send = options.fetch ?? globalThis.fetch;
  return async (request) => {
    const url = new URL(request.uri);
    const refused = refuseOtherProduct(url, request);
    if (refused) return refused;
    // Appended to the base URL's own path, so a proxy mounted under a prefix (`https://gw/keybrake`) is kept.
    const target = options.baseUrl
      ? new URL(`${options.baseUrl.replace(/\/+$/, '')}${url.pathname}${url.search}`)
      : url;
    appendAll(target.searchParams, request.params);
    const headers = new Headers(request.headers);
    headers.delete('connection');
    if (request.username && request.password) {
      headers.set(
        'authorization',
        `Basic ${Buffer.from(`${request.username}:${request.password}`).toString('base64')}`,
      );
    }
    let body: string | undefined;
    if (request.data !== undefined && request.method.toUpperCase() !== 'GET') {
      if (typeof request.data === 'string') body = request.data;
      else if (headers.get('content-type')?.includes('application/json')) body = JSON.stringify(request.data);
      else {
        const form = new URLSearchParams();
        appendAll(form, request.data);
        body = form.toString();
        headers.set('content-type', 'application/x-www-form-urlencoded');
      }
    }
    const response = await send(target, {
      method: request.method.toUpperCase(),
      headers,
      body,
      // A redirect is the SDK's to see, as with the capped fetch (which never follows one): a plain
      // fetch to a proxy would send a 307'd message again, through the proxy, with the vault key.
      redirect: 'manual',
      signal: request.timeout ? AbortSignal.timeout(request.timeout) : undefined,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : text;
    } catch {
      // Not JSON: twilio-node receives the text.
    }
    return { statusCode: response.status, body: parsed, headers: Object.fromEntries(response.headers) };
  };
}

/**
 * A Twilio product served from its own host (`messaging.twilio.com`, `verify.`, `lookups.`,
 * `iam.`…): the Twilio vendor forwards to `api.twilio.com` only, where such a path would mean
 * something else or nothing, and the cost model does not price those products. Answered here as a
 * Twilio 403 (`RestException`), without a request.
 */
function refuseOtherProduct(url: URL, request: TwilioHttpRequestOptions): TwilioHttpResponse | undefined {
  const host = url.hostname.toLowerCase();
  // `api.twilio.com`, or with twilio-node's edge and region: `api.sydney.au1.twilio.com`.
  if (!host.endsWith('.twilio.com') || host.startsWith('api.')) return undefined;
  const error = new EndpointNotAllowedError({
    keyId: parseVaultKey(request.password ?? '')?.keyId ?? 'unknown',
    method: request.method.toUpperCase(),
    path: `${host}${url.pathname}`,
    reason: `Keybrake forwards Twilio's REST API on api.twilio.com only; ${host} is another Twilio product`,
  });
  const answer = twilioErrorResponse(error);
  return { statusCode: answer.status, body: JSON.parse(answer.body) as unknown, headers: answer.headers };
}
