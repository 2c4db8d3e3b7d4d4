import { KeybrakeError } from './keybrake-error.js';

/** Fields of a {@link KeyExpiredError}. */
export interface KeyExpiredErrorOptions {
  keyId: string;
  label?: string | undefined;
  /** The expired key: the caller's own key or an ancestor. */
  expiredKeyId: string;
  /** When it expired, ISO 8601. */
  expiresAt: string;
  /** The message, when it is not a call that was denied (issuing a key under this one). */
  message?: string | undefined;
}

/** The vault key (or one of its ancestors) has expired. Answered with 401. */
export class KeyExpiredError extends KeybrakeError {
  readonly code = 'KEYBRAKE_KEY_EXPIRED' as const;
  readonly status = 401;
  override readonly name = 'KeyExpiredError';
  readonly keyId: string;
  readonly label: string | undefined;
  readonly expiredKeyId: string;
  readonly expiresAt: string;

  constructor(options: KeyExpiredErrorOptions) {
    super({
      message:
        options.message ??
        `Keybrake denied this call: the vault key ${options.expiredKeyId === options.keyId ? '' : `budget ${options.expiredKeyId} above this key `}expired at ${options.expiresAt}. The call was not sent. Retrying will not help; ask your supervisor for a fresh key.`,
    });
    this.keyId = options.keyId;
    this.label = options.label;
    this.expiredKeyId = options.expiredKeyId;
    this.expiresAt = options.expiresAt;
  }

  protected override details(): Record<string, unknown> {
    return { keyId: this.keyId, label: this.label, expiredKeyId: this.expiredKeyId, expiresAt: this.expiresAt };
  }
}
