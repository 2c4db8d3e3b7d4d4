import { type CliIo, EXIT } from './cli-io.js';
import { type AdminClient, type AdminFailure, createAdminClient } from './create-admin-client.js';
import { printable } from './format-spend-bar.js';

/**
 * Options every client command takes.
 *
 * @example
 * ```ts
 * parseCommandArgs(args, { ...CLIENT_OPTIONS, root: { type: 'string' } });
 * ```
 */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Opens the admin client of a client command: `--url`, else `KEYBRAKE_URL`, else
 * `http://127.0.0.1:8787`; the token from `KEYBRAKE_ADMIN_TOKEN`.
 *
 * @returns The client, or the exit code after printing a usage error.
 * @example
 * ```ts
 * const admin = openAdminClient(values.url, io);
 * if (typeof admin === 'number') return admin;
 * ```
 */
export function openAdminClient(url: string | undefined, io: CliIo): AdminClient | number {
  const adminToken = io.env.KEYBRAKE_ADMIN_TOKEN;
  if (!adminToken) {
    io.stderr('keybrake: KEYBRAKE_ADMIN_TOKEN is not set: export the admin token of the proxy.\n');
    return EXIT.usage;
  }
  if (!/^[\x21-\x7e]+$/.test(adminToken)) {
    // Never echoed: it is the admin credential.
    io.stderr(
      'keybrake: KEYBRAKE_ADMIN_TOKEN must be printable ASCII without spaces (check for a trailing newline or \\r from an env file).\n',
    );
    return EXIT.usage;
  }
  const base = url ?? (io.env.KEYBRAKE_URL || 'http://127.0.0.1:8787');
  if (!/^https?:\/\/[^/]/.test(base) || !URL.canParse(base)) {
    // Never the part before an `@`: it may be a password, with any character in it.
    const shown = base.includes('@') ? `…@${base.slice(base.lastIndexOf('@') + 1)}` : base;
    io.stderr(`keybrake: invalid --url ${JSON.stringify(shown)}: expected http(s)://host:port.\n`);
    return EXIT.usage;
  }
  const parsed = new URL(base);
  if (parsed.username !== '' || parsed.password !== '') {
    io.stderr('keybrake: --url must not carry a user name or password: the admin token is the credential.\n');
    return EXIT.usage;
  }
  return createAdminClient({ url: base, adminToken });
}

/**
 * Prints a failed admin call (code, message, field messages) and returns exit code 1.
 *
 * @example
 * ```ts
 * if (!result.ok) return reportFailure(result, io);
 * ```
 */
export function reportFailure(result: AdminFailure, io: CliIo): number {
  // Made printable, as every other line the CLI prints from the server: a terminal's control
  // sequences in an error (an echoed value, a server at --url that is not the proxy) are not run.
  io.stderr(`keybrake: ${printable(String(result.code))}: ${printable(String(result.message))}\n`);
  for (const [field, message] of Object.entries(result.fields ?? {}))
    io.stderr(`  ${printable(field)}: ${printable(String(message))}\n`);
  return EXIT.error;
}
