import { KeybrakeError } from './keybrake-error.js';

/** Fields of an {@link EndpointNotAllowedError}. */
export interface EndpointNotAllowedErrorOptions {
  keyId: string;
  label?: string | undefined;
  /** The HTTP method of the refused call. */
  method: string;
  /** The normalised path of the refused call (or the raw path, if it could not be normalised). */
  path: string;
  /** Why: not on the allow-list, or a path that tries to escape it (`..`, encoded slashes). */
  reason?: string;
}

/** The endpoint is outside the key's allow-list, or the path is malformed. Answered with 403. */
export class EndpointNotAllowedError extends KeybrakeError {
  readonly code = 'KEYBRAKE_ENDPOINT_NOT_ALLOWED' as const;
  readonly status = 403;
  override readonly name = 'EndpointNotAllowedError';
  readonly keyId: string;
  readonly label: string | undefined;
  readonly method: string;
  readonly path: string;

  constructor(options: EndpointNotAllowedErrorOptions) {
    super({
      message: `Keybrake denied this call: ${options.method} ${options.path} is not allowed for this key${options.reason ? ` (${options.reason})` : ''}. The call was not sent. Retrying will not help; use an allowed endpoint or ask your supervisor.`,
    });
    this.keyId = options.keyId;
    this.label = options.label;
    this.method = options.method;
    this.path = options.path;
  }

  protected override details(): Record<string, unknown> {
    return { keyId: this.keyId, label: this.label, method: this.method, path: this.path };
  }
}
