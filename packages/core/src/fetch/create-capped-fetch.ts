import { STATUS_CODES } from 'node:http';
import type { AuditActor } from '../audit/audit-record.js';
import { toHeaders } from '../vault/to-headers.js';
import type { ResponseHeaderRecord, VaultRequest, VaultResponse } from '../vault/vault-request.js';
import { currentActor } from './actor-context.js';
import { BytesResponse } from './bytes-response.js';

/** Options of a capped fetch. */
export interface CappedFetchOptions {
  /**
   * The vault key every call uses. When omitted, each call presents its own, as an official SDK
   * does: `Authorization: Bearer <vault key>` (Stripe, Resend) or Basic with the key as password (Twilio).
   */
  vaultKey?: string | undefined;
  /** Who is calling, for the audit record. Merged over the actor of {@link runWithActor}. */
  actor?: AuditActor | undefined;
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = Parameters<typeof fetch>[1];

/**
 * Reads what the vault needs from fetch arguments. The common SDK shapes (a URL string or object,
 * a string or byte body) skip building a WHATWG `Request`; anything else goes through one.
 */
async function toVaultRequest(input: FetchInput, init: FetchInit): Promise<Omit<VaultRequest, 'vaultKey' | 'actor'>> {
  const body = init?.body;
  if (
    (typeof input === 'string' || input instanceof URL) &&
    (body == null || typeof body === 'string' || body instanceof Uint8Array)
  ) {
    const url = typeof input === 'string' ? new URL(input) : input;
    const headers = init?.headers;
    return {
      method: init?.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      // The global Headers and a plain object are read as they are (names are lower-cased by the vault);
      // anything else (pairs, another fetch implementation's Headers) is read through a Headers.
      headers: headers instanceof Headers || isPlainObject(headers) ? headers : new Headers(headers),
      body: body ?? undefined,
      signal: init?.signal ?? undefined,
    };
  }
  const request = new Request(input, init);
  const url = new URL(request.url);
  return {
    method: request.method,
    path: `${url.pathname}${url.search}`,
    headers: request.headers,
    body: request.body ? new Uint8Array(await request.arrayBuffer()) : undefined,
    signal: request.signal,
  };
}

function isPlainObject(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** A record as `HeadersInit` as it is; through {@link toHeaders} only when a header repeats (`set-cookie`). */
function toHeadersInit(record: Readonly<ResponseHeaderRecord>): Headers | Record<string, string> {
  for (const name in record) if (Array.isArray(record[name])) return toHeaders(record);
  return record as Record<string, string>;
}

/**
 * Creates a WHATWG `fetch` that sends every call through a vault: the URL's host is ignored (the
 * vault forwards to the vendor of the key), only its path and query are used. Denials resolve to
 * responses in the vendor's own error shape (429 cap, 403 endpoint, 401 key), so an official SDK
 * given this fetch raises its own error. Responses are `Response` instances over a body already in
 * memory (the vault reads the vendor's answer whole to settle its cost); read whole with `json()`,
 * `text()` or `arrayBuffer()`, they skip the stream a `Response` otherwise builds.
 *
 * @example
 * ```ts
 * const cappedFetch = createCappedFetch(vault, { vaultKey: member.vaultKey });
 * const response = await cappedFetch('https://api.resend.com/emails', { method: 'POST', body });
 * ```
 */
export function createCappedFetch(
  vault: { handle(request: VaultRequest): Promise<VaultResponse> },
  options: CappedFetchOptions = {},
): typeof fetch {
  return async (input, init) => {
    const actor = options.actor || currentActor() ? { ...currentActor(), ...options.actor } : undefined;
    const result = await vault.handle({ ...(await toVaultRequest(input, init)), vaultKey: options.vaultKey, actor });
    const responseInit = { status: result.status, headers: toHeadersInit(result.headerRecord) };
    // A BytesResponse gives the standard statusText itself.
    return NULL_BODY_STATUS.has(result.status)
      ? new Response(null, { ...responseInit, statusText: STATUS_CODES[result.status] ?? '' })
      : (new BytesResponse(result.body, responseInit) as unknown as Response);
  };
}
