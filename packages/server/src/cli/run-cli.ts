import { VERSION } from '../version.js';
import { type CliIo, EXIT } from './cli-io.js';
import { helpText } from './help-texts.js';
import { runAuditCommand } from './run-audit-command.js';
import { runKeysCommand } from './run-keys-command.js';
import { runServeCommand } from './run-serve-command.js';
import { usageError } from './usage-error.js';

/** Options of {@link runCli}: the arguments, output and environment. */
export interface RunCliOptions extends CliIo {
  /** The arguments after the executable (`process.argv.slice(2)`). */
  argv: string[];
}

/**
 * The `keybrake` command line: `serve`, `keys issue|show|revoke`, `audit`.
 *
 * @param options - Arguments, output, environment; see {@link RunCliOptions}.
 * @returns The exit code: 0 ok, 1 an error from the server or at run time, 2 a usage error.
 * @example
 * ```ts
 * process.exitCode = await runCli({
 *   argv: process.argv.slice(2),
 *   stdout: (text) => process.stdout.write(text),
 *   stderr: (text) => process.stderr.write(text),
 *   env: process.env,
 * });
 * ```
 */
export async function runCli({ argv, ...io }: RunCliOptions): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return runServeCommand(rest, io);
    case 'keys':
      return runKeysCommand(rest, io);
    case 'audit':
      return runAuditCommand(rest, io);
    case 'help':
      // `keybrake help keys issue` is `keybrake keys issue --help`.
      if (rest.length > 0) return runCli({ argv: [...rest, '--help'], ...io });
      io.stdout(helpText('main'));
      return EXIT.ok;
    case '-h':
    case '--help':
      io.stdout(helpText('main'));
      return EXIT.ok;
    case '-v':
    case '--version':
      io.stdout(`keybrake ${VERSION}\n`);
      return EXIT.ok;
    case undefined:
      io.stderr(helpText('main'));
      return EXIT.usage;
    default:
      return usageError(io, `unknown command "${command}".`, '');
  }
}
