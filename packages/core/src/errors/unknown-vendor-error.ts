import { KeybrakeError } from './keybrake-error.js';

/** A key names a vendor Keybrake has no definition for. */
export class UnknownVendorError extends KeybrakeError {
  readonly code = 'KEYBRAKE_UNKNOWN_VENDOR' as const;
  readonly status = 400;
  override readonly name = 'UnknownVendorError';
}
