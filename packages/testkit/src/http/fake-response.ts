/**
 * What a vendor handler answers: a status, a body and extra headers. Internal to the fakes.
 *
 * @example
 * ```ts
 * const response: FakeResponse = { status: 200, body: { id: 'cus_123' } };
 * ```
 */
export interface FakeResponse {
  /** HTTP status. */
  status: number;
  /** Sent as is when a string, otherwise serialised as JSON. */
  body: unknown;
  /** Extra response headers; `content-type: application/json` is the default. */
  headers?: Record<string, string>;
}
