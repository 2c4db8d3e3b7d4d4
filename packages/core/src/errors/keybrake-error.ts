const marker = 'keybrake.error';
const symbol = Symbol.for(marker);

/** Stable string codes carried by every {@link KeybrakeError}. */
export type KeybrakeErrorCode =
  | 'KEYBRAKE_CAP_EXCEEDED'
  | 'KEYBRAKE_ENDPOINT_NOT_ALLOWED'
  | 'KEYBRAKE_KEY_EXPIRED'
  | 'KEYBRAKE_KEY_REVOKED'
  | 'KEYBRAKE_INVALID_KEY'
  | 'KEYBRAKE_INVALID_POLICY'
  | 'KEYBRAKE_INVALID_REQUEST'
  | 'KEYBRAKE_UNKNOWN_COST'
  | 'KEYBRAKE_UNKNOWN_CURRENCY'
  | 'KEYBRAKE_UNKNOWN_VENDOR'
  | 'KEYBRAKE_STORAGE_ERROR'
  | 'KEYBRAKE_UPSTREAM_ERROR';

/** Options shared by every Keybrake error constructor. */
export interface KeybrakeErrorOptions {
  /** The human (and model) readable message. Never contains a secret or a vault key. */
  message: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error Keybrake raises. Check with {@link KeybrakeError.isInstance}
 * rather than `instanceof`, so the check survives two installed copies of the package.
 *
 * @example
 * ```ts
 * try { await cappedFetch(url, init); } catch (error) {
 *   if (KeybrakeError.isInstance(error)) console.log(error.code);
 * }
 * ```
 */
export abstract class KeybrakeError extends Error {
  readonly [symbol] = true;
  /** Stable machine-readable code, e.g. `KEYBRAKE_CAP_EXCEEDED`. */
  abstract readonly code: KeybrakeErrorCode;
  /** The HTTP status a denial with this error is answered with. */
  abstract readonly status: number;
  /** Whether retrying the same call can succeed. Denials by policy are never retryable. */
  readonly retryable: boolean = false;

  constructor({ message, cause }: KeybrakeErrorOptions) {
    super(message, cause === undefined ? undefined : { cause });
  }

  /** `true` for any Keybrake error, from any installed copy of `@keybrake/core`. */
  static isInstance(error: unknown): error is KeybrakeError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[symbol] === true;
  }

  /** Structured, secret-free fields for audit records, wire errors and tool errors. */
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, retryable: this.retryable, ...this.details() };
  }

  /** Error-specific structured fields, merged into {@link KeybrakeError.toJSON}. */
  protected details(): Record<string, unknown> {
    return {};
  }

  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }
}

/**
 * Whether a Keybrake error (or its JSON) is a denial by policy — a cap, an allow-list, an expiry, a
 * revocation, an unknown cost or currency, a bad key or request: what stops an agent's tool for
 * good. A storage outage, an unreachable vendor, and a retryable answer (a repeated
 * `Idempotency-Key` still in flight) are not: the same call may go through later.
 *
 * @example
 * ```ts
 * const denial = findKeybrakeError(error);
 * if (denial && isPolicyDenial(denial)) return 'stopped by its budget';
 * ```
 */
export function isPolicyDenial(error: { code: string; retryable?: boolean | undefined }): boolean {
  return (
    error.retryable !== true && error.code !== 'KEYBRAKE_STORAGE_ERROR' && error.code !== 'KEYBRAKE_UPSTREAM_ERROR'
  );
}
