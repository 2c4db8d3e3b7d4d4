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
    init?.signal?.throwIfAborted();
    const url = typeof input === 'string' ? new URL(input) : input;
    const method = init?.method ?? 'GET';
    if (body != null && /^(get|head)$/i.test(method)) {
      throw new TypeError('Request with GET/HEAD method cannot have body.');
    }
    const given = init?.headers;
    // The global Headers and a plain object are read as they are (the vault lower-cases the names,
    // and checks a plain object's names and values as a Headers would); anything else (pairs,
    // another fetch implementation's Headers) is read through a Headers.
    let headers = given instanceof Headers || isPlainObject(given) ? given : new Headers(given);
    // fetch's default for a string body; a vendor may read a body without a Content-Type otherwise.
    if (typeof body === 'string' && !hasContentType(headers)) {
      headers = new Headers(headers);
      headers.set('content-type', 'text/plain;charset=UTF-8');
    }
    return {
      method,
      path: `${url.pathname}${url.search}`,
      headers,
      // fetch copies the bytes when it is called (a caller may reuse its buffer once it returns),
      // and the bytes sent must be the bytes priced: `new Uint8Array(view)` copies, a Buffer's
      // own `slice` would not.
      body: body instanceof Uint8Array ? new Uint8Array(body) : (body ?? undefined),
      signal: init?.signal ?? undefined,
    };
  }
  const request = new Request(input, init);
  const url = new URL(request.url);
  return {
    method: request.method,
    path: `${url.pathname}${url.search}`,
    headers: request.headers,
    body: request.body ? await readBody(request) : undefined,
    signal: request.signal,
  };
}

/** A request's whole body, or the abort reason as soon as its signal aborts (a stream may stall). */
export async function readBody(request: Request): Promise<Uint8Array> {
  const { signal } = request;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const reading = request.arrayBuffer();
  reading.catch(() => {}); // abandoned on abort: its own failure is no one's to handle
  try {
    return new Uint8Array(await Promise.race([reading, aborted]));
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function hasContentType(headers: Headers | Record<string, string> | undefined): boolean {
  if (headers === undefined) return false;
  if (headers instanceof Headers) return headers.has('content-type');
  for (const name in headers) if (name.toLowerCase() === 'content-type') return true;
  return false;
}

function isPlainObject(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * Who is calling: this fetch's actor over the one of the scope it runs in ({@link runWithActor}).
 * A fetch of another member (a member run by a supervisor's tool, whose own tools set no actor)
 * takes nothing of the supervisor's tool or tool call: its calls are not the supervisor's.
 */
function actorOf(own: AuditActor | undefined, scope: AuditActor | undefined): AuditActor | undefined {
  if (!own) return scope && { ...scope };
  if (!scope) return { ...own };
  if (own.member !== undefined && scope.member !== undefined && own.member !== scope.member) return { ...own };
  return { ...scope, ...own };
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
    const actor = actorOf(options.actor, currentActor());
    const request = await toVaultRequest(input, init);
    const result = await vault.handle({ ...request, vaultKey: options.vaultKey, actor });
    const responseInit = { status: result.status, headers: toHeadersInit(result.headerRecord) };
    // A BytesResponse gives the standard statusText itself.
    return NULL_BODY_STATUS.has(result.status) || request.method.toUpperCase() === 'HEAD'
      ? new Response(null, { ...responseInit, statusText: STATUS_CODES[result.status] ?? '' })
      : (new BytesResponse(result.body, responseInit) as unknown as Response);
  };
}
