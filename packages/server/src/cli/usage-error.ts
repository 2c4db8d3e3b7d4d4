import { redactVaultKeys } from '@keybrake/core';
import { type CliIo, EXIT } from './cli-io.js';

/**
 * Prints a usage error and the hint to `--help`; returns exit code 2. A vault key the message
 * quotes from the command line (a second key pasted after the first, say) is redacted: terminals
 * and CI logs keep what is printed.
 *
 * @example
 * ```ts
 * return usageError(io, 'keys show needs a key id.', 'keys show');
 * ```
 */
export function usageError(io: CliIo, message: string, command: string): number {
  io.stderr(
    `keybrake: ${redactVaultKeys(message)}\nRun \`keybrake${command ? ` ${command}` : ''} --help\` for usage.\n`,
  );
  return EXIT.usage;
}
