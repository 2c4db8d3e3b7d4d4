import type { FakeResponse } from './fake-response.js';

/**
 * Thrown inside a fake's handler to stop and answer with a vendor error response. Internal control flow of the
 * fakes; it never reaches a caller.
 *
 * @example
 * ```ts
 * throw new FakeResponseError({ status: 404, body: { message: 'Not found' } });
 * ```
 */
export class FakeResponseError extends Error {
  /** The response to send. */
  readonly response: FakeResponse;

  /**
   * @param response - The vendor error response to send.
   */
  constructor(response: FakeResponse) {
    super(`Fake upstream answered ${response.status}`);
    this.name = 'FakeResponseError';
    this.response = response;
  }
}
