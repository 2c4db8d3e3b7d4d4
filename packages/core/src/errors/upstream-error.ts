import { KeybrakeError, type KeybrakeErrorOptions } from './keybrake-error.js';

/**
 * The upstream could not be reached or did not answer. Answered with 502/504. If the request may
 * have reached the vendor (`outcomeUnknown`), its reservation is kept as spent; if it was never
 * sent (the connection failed), it is released.
 */
export class UpstreamError extends KeybrakeError {
  readonly code = 'KEYBRAKE_UPSTREAM_ERROR' as const;
  readonly status: number;
  override readonly name = 'UpstreamError';
  /** Whether the request may have reached the vendor (outcome unknown): its cost stays counted. */
  readonly outcomeUnknown: boolean;
  constructor(options: KeybrakeErrorOptions & { status?: number; outcomeUnknown: boolean }) {
    super(options);
    this.status = options.status ?? 502;
    this.outcomeUnknown = options.outcomeUnknown;
  }
  protected override details(): Record<string, unknown> {
    return { outcomeUnknown: this.outcomeUnknown };
  }
}
