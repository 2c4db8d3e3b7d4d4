import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/** The result of {@link parseCommandArgs}: values and positionals, or a usage message. */
export type ParsedCommandArgs<T extends ParseArgsOptionsConfig> =
  | {
      ok: true;
      values: ReturnType<typeof parseArgs<{ options: T; allowPositionals: true; strict: true }>>['values'];
      positionals: string[];
    }
  | { ok: false; message: string };

/**
 * Parses a command's arguments with `util.parseArgs` (strict: unknown options are usage errors).
 *
 * @param args - The arguments after the command's name.
 * @param options - The command's options.
 * @returns The values and positionals, or the usage message.
 * @example
 * ```ts
 * const parsed = parseCommandArgs(['--port', '0'], { port: { type: 'string' } });
 * ```
 */
export function parseCommandArgs<T extends ParseArgsOptionsConfig>(args: string[], options: T): ParsedCommandArgs<T> {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { ok: true, values, positionals };
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      return { ok: false, message: error.message };
    }
    throw error;
  }
}
