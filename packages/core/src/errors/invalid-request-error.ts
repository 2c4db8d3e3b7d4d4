import { KeybrakeError, type KeybrakeErrorOptions } from './keybrake-error.js';

/** A request Keybrake cannot safely process: malformed path, oversized or unparseable body. Answered with 400 or 413. */
export class InvalidRequestError extends KeybrakeError {
  readonly code = 'KEYBRAKE_INVALID_REQUEST' as const;
  readonly status: number;
  override readonly name = 'InvalidRequestError';
  constructor(options: KeybrakeErrorOptions & { status?: number }) {
    super(options);
    this.status = options.status ?? 400;
  }
}
