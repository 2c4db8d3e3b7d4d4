import type { FakeResponse } from '../http/fake-response.js';
import { FakeResponseError } from '../http/fake-response-error.js';

/**
 * Twilio's error body: `{ code, message, more_info, status }`.
 *
 * @param status - HTTP status.
 * @param code - Twilio error code, e.g. `21604`.
 * @param message - Message, worded like Twilio's.
 * @returns The error body.
 * @example
 * ```ts
 * twilioErrorBody(401, 20003, 'Authenticate');
 * ```
 */
export function twilioErrorBody(
  status: number,
  code: number,
  message: string,
): { code: number; message: string; more_info: string; status: number } {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

/**
 * A throwable Twilio error response.
 *
 * @param status - HTTP status.
 * @param code - Twilio error code.
 * @param message - Message.
 * @returns An error to `throw` from a Twilio handler.
 * @example
 * ```ts
 * throw twilioError(400, 21604, "A 'To' phone number is required.");
 * ```
 */
export function twilioError(status: number, code: number, message: string): FakeResponseError {
  const response: FakeResponse = { status, body: twilioErrorBody(status, code, message) };
  return new FakeResponseError(response);
}

/**
 * The body Twilio answers for a failure injected with `failNext(status)`.
 *
 * @param status - HTTP status.
 * @param detail - Extra detail for the message.
 * @returns A Twilio error body matching the status.
 * @example
 * ```ts
 * defaultTwilioFailure(429); // code 20429 'Too Many Requests'
 * ```
 */
export function defaultTwilioFailure(status: number, detail?: string): ReturnType<typeof twilioErrorBody> {
  if (status === 429) return twilioErrorBody(status, 20429, 'Too Many Requests');
  if (status === 503) return twilioErrorBody(status, 20503, 'Service unavailable');
  if (status >= 500) return twilioErrorBody(status, 20000 + status, detail ?? 'Internal Server Error');
  return twilioErrorBody(status, 20000 + status, detail ?? `Request failed with status ${status}`);
}
