import { KeybrakeError } from './keybrake-error.js';

/** A policy is invalid, or a child's policy does not narrow its parent's. */
export class InvalidPolicyError extends KeybrakeError {
  readonly code = 'KEYBRAKE_INVALID_POLICY' as const;
  readonly status = 400;
  override readonly name = 'InvalidPolicyError';
}
