import { KeybrakeError } from './keybrake-error.js';

/** Fields of a {@link KeyRevokedError}. */
export interface KeyRevokedErrorOptions {
  keyId: string;
  label?: string | undefined;
  /** The revoked key: the caller's own key or an ancestor (revocation cascades). */
  revokedKeyId: string;
  /** The message, when it is not a call that was denied (issuing a key under this one). */
  message?: string | undefined;
}

/** The vault key or one of its ancestors was revoked. Answered with 401. */
export class KeyRevokedError extends KeybrakeError {
  readonly code = 'KEYBRAKE_KEY_REVOKED' as const;
  readonly status = 401;
  override readonly name = 'KeyRevokedError';
  readonly keyId: string;
  readonly label: string | undefined;
  readonly revokedKeyId: string;

  constructor(options: KeyRevokedErrorOptions) {
    super({
      message:
        options.message ??
        `Keybrake denied this call: the vault key ${options.revokedKeyId === options.keyId ? 'was' : `budget ${options.revokedKeyId} above this key was`} revoked. The call was not sent. Retrying will not help; stop and report to your supervisor.`,
    });
    this.keyId = options.keyId;
    this.label = options.label;
    this.revokedKeyId = options.revokedKeyId;
  }

  protected override details(): Record<string, unknown> {
    return { keyId: this.keyId, label: this.label, revokedKeyId: this.revokedKeyId };
  }
}
