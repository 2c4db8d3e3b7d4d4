import { FakeResponseError } from '../http/fake-response-error.js';

/**
 * Resend's error body: `{ statusCode, name, message }`.
 *
 * @example
 * ```ts
 * const body: ResendErrorBody = { statusCode: 404, name: 'not_found', message: 'Email not found' };
 * ```
 */
export interface ResendErrorBody {
  /** HTTP status, repeated in the body. */
  statusCode: number;
  /** Error name, e.g. `validation_error`, `missing_required_field`. */
  name: string;
  /** Message, worded like Resend's. */
  message: string;
}

/**
 * A throwable Resend error response.
 *
 * @param statusCode - HTTP status.
 * @param name - Resend error name.
 * @param message - Message.
 * @returns An error to `throw` from a Resend handler.
 * @example
 * ```ts
 * throw resendError(422, 'missing_required_field', 'Missing `to` field.');
 * ```
 */
export function resendError(statusCode: number, name: string, message: string): FakeResponseError {
  const body: ResendErrorBody = { statusCode, name, message };
  return new FakeResponseError({ status: statusCode, body });
}

/**
 * The body Resend answers for a failure injected with `failNext(status)`.
 *
 * @param status - HTTP status.
 * @param detail - Extra detail for the message.
 * @returns A Resend error body matching the status.
 * @example
 * ```ts
 * defaultResendFailure(429).name; // 'rate_limit_exceeded'
 * ```
 */
export function defaultResendFailure(status: number, detail?: string): ResendErrorBody {
  if (status === 429) {
    return {
      statusCode: status,
      name: 'rate_limit_exceeded',
      message:
        'Too many requests. You can only make 2 requests per second. See rate limit response headers for more information. Or contact support to increase rate limit.',
    };
  }
  if (status >= 500) {
    return { statusCode: status, name: 'application_error', message: detail ?? 'An unexpected error occurred.' };
  }
  return { statusCode: status, name: 'validation_error', message: detail ?? `Request failed with status ${status}` };
}
