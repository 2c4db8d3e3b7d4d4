import { KeybrakeError } from './keybrake-error.js';

/** The key store, ledger or audit sink failed; the call was denied (fail closed). Answered with 503. */
export class StorageError extends KeybrakeError {
  readonly code = 'KEYBRAKE_STORAGE_ERROR' as const;
  readonly status = 503;
  override readonly name = 'StorageError';
}
