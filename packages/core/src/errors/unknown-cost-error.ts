import { KeybrakeError } from './keybrake-error.js';

/** The cost of a money-moving call could not be determined, so it was denied (fail closed). Answered with 403. */
export class UnknownCostError extends KeybrakeError {
  readonly code = 'KEYBRAKE_UNKNOWN_COST' as const;
  readonly status = 403;
  override readonly name = 'UnknownCostError';
}
