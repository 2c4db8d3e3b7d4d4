import type { IssueKeyBody } from '../wire/parse-issue-key-body.js';
import type { WireAuditResult, WireIssuedKey, WireKeyStatus, WireRevoked } from '../wire/wire-types.js';

/** Options of {@link createAdminClient}. */
export interface AdminClientOptions {
  /** The proxy's base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The admin token. */
  adminToken: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** How long one admin call may take, answer included, before it is given up. @default 30_000 */
  timeoutMs?: number | undefined;
}

/** The answer of an admin call: the body, or the error the server (or the network) gave. */
export type AdminResult<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; code: string; message: string; fields?: Record<string, string> | undefined };

/** A failed admin call. */
export type AdminFailure = Extract<AdminResult<unknown>, { ok: false }>;

/** A client of the proxy's admin API; see {@link createAdminClient}. */
export interface AdminClient {
  issueKey(body: IssueKeyBody): Promise<AdminResult<WireIssuedKey>>;
  getKey(id: string): Promise<AdminResult<WireKeyStatus>>;
  revokeKey(id: string): Promise<AdminResult<WireRevoked>>;
  queryAudit(query: Record<string, string | undefined>): Promise<AdminResult<WireAuditResult>>;
}

/**
 * Creates the CLI's client of the admin API. It never throws for an HTTP or network error: it
 * returns it, with status 0 and code `KEYBRAKE_UNREACHABLE` when the proxy could not be reached.
 *
 * @param options - URL, admin token, fetch.
 * @returns The {@link AdminClient}.
 * @example
 * ```ts
 * const admin = createAdminClient({ url: 'http://127.0.0.1:8787', adminToken });
 * const key = await admin.issueKey({ vendor: 'stripe', cap_usd: 150 });
 * ```
 */
export function createAdminClient(options: AdminClientOptions): AdminClient {
  const send = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const unreachable = (reason: string): AdminFailure => ({
    ok: false,
    status: 0,
    code: 'KEYBRAKE_UNREACHABLE',
    message: `Could not reach the Keybrake proxy at ${options.url} (${reason}). Is \`keybrake serve\` running? Set --url or KEYBRAKE_URL.`,
  });
  const call = async <T>(
    method: string,
    path: string,
    isAnswer: (json: Record<string, unknown>) => boolean,
    body?: unknown,
  ): Promise<AdminResult<T>> => {
    let response: Response;
    let text: string;
    try {
      response = await send(new URL(path, options.url), {
        method,
        headers: {
          authorization: `Bearer ${options.adminToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        return unreachable(`no answer within ${timeoutMs / 1000} s`);
      }
      // Only a network error's cause (ECONNREFUSED, ENOTFOUND): an error building the request
      // quotes its headers, the admin token among them.
      return unreachable(
        error instanceof Error && error.cause instanceof Error ? error.cause.message : 'the request could not be sent',
      );
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (response.ok) {
      if (typeof json === 'object' && json !== null && isAnswer(json as Record<string, unknown>)) {
        return { ok: true, status: response.status, body: json as T };
      }
      // Something else answered at that URL (a dev server, a login page): say so, never crash on it.
      return {
        ok: false,
        status: response.status,
        code: 'KEYBRAKE_BAD_RESPONSE',
        message: `The server at ${options.url} answered ${response.status} without the admin API's answer: it is not a Keybrake proxy. Set --url or KEYBRAKE_URL.`,
      };
    }
    const error = (json as { error?: { code?: unknown; message?: unknown; fields?: unknown } } | undefined)?.error;
    return {
      ok: false,
      status: response.status,
      code: typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`,
      message: typeof error?.message === 'string' ? error.message : `The proxy answered ${response.status}.`,
      fields:
        typeof error?.fields === 'object' && error.fields !== null
          ? (error.fields as Record<string, string>)
          : undefined,
    };
  };
  const keyPath = (id: string) => `/vault/keys/${encodeURIComponent(id)}`;
  return {
    issueKey: (body) =>
      call('POST', '/vault/keys', (json) => typeof json.id === 'string' && typeof json.vault_key === 'string', body),
    getKey: (id) => call('GET', keyPath(id), (json) => typeof json.id === 'string' && Array.isArray(json.caps)),
    revokeKey: (id) => call('DELETE', keyPath(id), (json) => Array.isArray(json.revoked)),
    queryAudit: (query) => {
      const search = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) if (value !== undefined) search.set(name, value);
      const text = search.toString();
      return call(
        'GET',
        `/vault/audit${text ? `?${text}` : ''}`,
        (json) => Array.isArray(json.records) && Array.isArray(json.totals),
      );
    },
  };
}
