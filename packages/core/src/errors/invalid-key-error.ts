import { KeybrakeError } from './keybrake-error.js';

/** The presented vault key is malformed (bad prefix, length or checksum) or unknown. Answered with 401. */
export class InvalidKeyError extends KeybrakeError {
  readonly code = 'KEYBRAKE_INVALID_KEY' as const;
  readonly status = 401;
  override readonly name = 'InvalidKeyError';
}
