/**
 * Where the CLI reads its environment and writes its output; `process` in the `keybrake` bin.
 *
 * @example
 * ```ts
 * const io: CliIo = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text), env: process.env };
 * ```
 */
export interface CliIo {
  /** Writes to standard output. */
  stdout(text: string): void;
  /** Writes to standard error. */
  stderr(text: string): void;
  /** The environment (`KEYBRAKE_URL`, `KEYBRAKE_ADMIN_TOKEN`, secrets, …). */
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves with the signal's name when the server should stop (`serve`). @default SIGTERM or SIGINT */
  waitForShutdown?: (() => Promise<string>) | undefined;
}

/**
 * Exit codes: 0 success, 1 an error (from the server, the network or at run time), 2 a usage error.
 *
 * @example
 * ```ts
 * return result.ok ? EXIT.ok : EXIT.error;
 * ```
 */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;
