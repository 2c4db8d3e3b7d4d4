/**
 * One HTTP request as a fake upstream received it, plus the status it answered with.
 *
 * @example
 * ```ts
 * const [request] = fake.requests;
 * expect(request?.form?.amount).toBe('1000');
 * expect(request?.status).toBe(200);
 * ```
 */
export interface RecordedRequest {
  /** HTTP method in upper case, e.g. `POST`. */
  method: string;
  /** Path and query string as sent, e.g. `/v1/customers?limit=3`. */
  path: string;
  /** Path without the query string. */
  pathname: string;
  /** Request headers with lower-case names; repeated headers are joined with `, `. */
  headers: Record<string, string>;
  /** Raw request body (UTF-8), `''` when there was none. */
  body: string;
  /**
   * The decoded body when it was `application/x-www-form-urlencoded`: flat bracketed keys exactly as sent
   * (`line_items[0][price_data][unit_amount]`). A repeated key keeps its last value.
   */
  form?: Record<string, string>;
  /** The parsed body when it was JSON and parsed. */
  json?: unknown;
  /** `Date.now()` when the request was received. */
  receivedAt: number;
  /** The status the fake answered with; `0` while unanswered or when the connection was dropped or hung. */
  status: number;
}

/**
 * A running loopback fake of a vendor API.
 *
 * @example
 * ```ts
 * const fake = await createFakeStripe();
 * await fetch(`${fake.url}/v1/balance`);
 * expect(fake.requests).toHaveLength(1);
 * await fake.close();
 * ```
 */
export interface FakeUpstream {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`. */
  url: string;
  /** Host the server listens on. */
  host: string;
  /** Port the server listens on (the one chosen by the OS when the option was `0`). */
  port: number;
  /** Every request received so far, oldest first. */
  requests: RecordedRequest[];
  /** Forgets recorded requests, stored objects, idempotency keys and queued failures. */
  reset(): void;
  /** Stops listening and destroys open connections, including hung ones. */
  close(): Promise<void>;
  /**
   * Makes the next request fail with `status` without being applied. Calls queue up, one per request.
   *
   * @param status - HTTP status to answer with.
   * @param body - Response body (objects are sent as JSON); defaults to the vendor's own error shape for `status`.
   */
  failNext(status: number, body?: unknown): void;
  /** Applies the next request (objects are created) and then never answers it until {@link FakeUpstream.close}. */
  hangNext(): void;
  /** Applies the next request (objects are created) and then destroys the socket without answering. */
  dropNext(): void;
}

/**
 * Options shared by every fake upstream.
 *
 * @example
 * ```ts
 * const fake = await createFakeStripe({ secret: 'sk_test_123', latencyMs: 50 });
 * ```
 */
export interface FakeUpstreamOptions {
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port to listen on; `0` lets the OS pick a free one.
   * @default 0
   */
  port?: number;
  /** When set, requests must authenticate with it, else the fake answers 401 in the vendor's error shape. */
  secret?: string;
  /**
   * Artificial delay before a request is applied and answered, in milliseconds.
   * @default 0
   */
  latencyMs?: number;
  /**
   * Apply every request and then destroy its socket without answering, to simulate an unknown outcome.
   * @default false
   */
  dropConnectionAfterReceive?: boolean;
}
