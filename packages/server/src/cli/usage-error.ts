import { type CliIo, EXIT } from './cli-io.js';

/**
 * Prints a usage error and the hint to `--help`; returns exit code 2.
 *
 * @example
 * ```ts
 * return usageError(io, 'keys show needs a key id.', 'keys show');
 * ```
 */
export function usageError(io: CliIo, message: string, command: string): number {
  io.stderr(`keybrake: ${message}\nRun \`keybrake${command ? ` ${command}` : ''} --help\` for usage.\n`);
  return EXIT.usage;
}
