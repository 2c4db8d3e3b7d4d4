import { KeybrakeError, type KeybrakeErrorOptions } from './keybrake-error.js';

/** The presented vault key is malformed (bad prefix, length or checksum) or unknown. Answered with 401. */
export class InvalidKeyError extends KeybrakeError {
  readonly code = 'KEYBRAKE_INVALID_KEY' as const;
  readonly status = 401;
  override readonly name = 'InvalidKeyError';
}

/** A policy is invalid, or a child's policy does not narrow its parent's. */
export class InvalidPolicyError extends KeybrakeError {
  readonly code = 'KEYBRAKE_INVALID_POLICY' as const;
  readonly status = 400;
  override readonly name = 'InvalidPolicyError';
}

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

/** The cost of a money-moving call could not be determined, so it was denied (fail closed). Answered with 403. */
export class UnknownCostError extends KeybrakeError {
  readonly code = 'KEYBRAKE_UNKNOWN_COST' as const;
  readonly status = 403;
  override readonly name = 'UnknownCostError';
}

/** A charge is in a currency with no configured FX rate, so its USD cost is unknown. Answered with 403. */
export class UnknownCurrencyError extends KeybrakeError {
  readonly code = 'KEYBRAKE_UNKNOWN_CURRENCY' as const;
  readonly status = 403;
  override readonly name = 'UnknownCurrencyError';
  readonly currency: string;
  constructor(options: { currency: string; cause?: unknown }) {
    super({
      message: `Keybrake denied this call: no FX rate is configured for currency "${options.currency.toUpperCase()}", so its USD cost cannot be capped. Retrying will not help; use a configured currency or ask an operator to add a rate.`,
      cause: options.cause,
    });
    this.currency = options.currency;
  }
  protected override details(): Record<string, unknown> {
    return { currency: this.currency };
  }
}

/** A key names a vendor Keybrake has no definition for. */
export class UnknownVendorError extends KeybrakeError {
  readonly code = 'KEYBRAKE_UNKNOWN_VENDOR' as const;
  readonly status = 400;
  override readonly name = 'UnknownVendorError';
}

/** The key store, ledger or audit sink failed; the call was denied (fail closed). Answered with 503. */
export class StorageError extends KeybrakeError {
  readonly code = 'KEYBRAKE_STORAGE_ERROR' as const;
  readonly status = 503;
  override readonly name = 'StorageError';
}

/** The upstream could not be reached or did not answer; the reservation is kept as spent. Answered with 502/504. */
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
