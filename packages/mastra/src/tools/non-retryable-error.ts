import * as mastraErrors from '@mastra/core/error';

type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

/**
 * Mastra's `MastraNonRetryableError` (a workflow step throwing it is not run again under `retries`),
 * read from the namespace so that a `@mastra/core` from before it still loads (plain `Error` then).
 */
const NonRetryableError: ErrorClass =
  (mastraErrors as unknown as { MastraNonRetryableError?: ErrorClass }).MastraNonRetryableError ?? Error;

/**
 * An error a Mastra workflow does not retry: a denied tool run as a workflow step with `retries`
 * would otherwise run again, and charge again whatever it charged before the denial.
 *
 * @param message - What the model (or the workflow's result) reads.
 * @param cause - The denial behind it.
 * @param name - The error's name (the denial's class name).
 * @returns The error to throw.
 * @example
 * ```ts
 * throw nonRetryableError(formatDenialForModel(denial), denial, denial.name);
 * ```
 */
export function nonRetryableError(message: string, cause: unknown, name = 'Error'): Error {
  const error = new NonRetryableError(message, { cause });
  error.name = name;
  return error;
}
