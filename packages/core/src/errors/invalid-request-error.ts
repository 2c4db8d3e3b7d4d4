import { KeybrakeError, type KeybrakeErrorOptions } from './keybrake-error.js';

/**
 * A request Keybrake cannot safely process: malformed path, oversized (413) or compressed (415)
 * body, or a retry whose original call with the same `Idempotency-Key` is still in flight (409,
 * the one retryable case). Answered with 400 unless said otherwise.
 */
export class InvalidRequestError extends KeybrakeError {
  readonly code = 'KEYBRAKE_INVALID_REQUEST' as const;
  readonly status: number;
  override readonly retryable: boolean;
  override readonly name = 'InvalidRequestError';
  constructor(options: KeybrakeErrorOptions & { status?: number; retryable?: boolean }) {
    super(options);
    this.status = options.status ?? 400;
    this.retryable = options.retryable ?? false;
  }
}
