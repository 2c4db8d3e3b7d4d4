import { toKeyId } from '@keybrake/core';
import type { IssueKeyBody } from '../wire/parse-issue-key-body.js';
import type { WireIssuedKey, WireKeyStatus } from '../wire/wire-types.js';
import { type CliIo, EXIT } from './cli-io.js';
import { formatColumns, formatSpendBar, formatUsdAmount, printable } from './format-spend-bar.js';
import { helpText } from './help-texts.js';
import { CLIENT_OPTIONS, openAdminClient, reportFailure } from './open-admin-client.js';
import { parseCommandArgs } from './parse-command-args.js';
import { usageError } from './usage-error.js';

const ISSUE_OPTIONS = {
  ...CLIENT_OPTIONS,
  vendor: { type: 'string' },
  parent: { type: 'string' },
  cap: { type: 'string' },
  'daily-cap': { type: 'string' },
  'max-calls': { type: 'string' },
  'per-call-max': { type: 'string' },
  allow: { type: 'string', multiple: true },
  'expires-in': { type: 'string' },
  'expires-with-parent': { type: 'boolean' },
  label: { type: 'string' },
  'fallback-estimate': { type: 'string' },
  metadata: { type: 'string' },
} as const;

/**
 * `keybrake keys issue|show|revoke`, against a running proxy.
 *
 * @param args - The arguments after `keys`.
 * @param io - Output and environment.
 * @returns The exit code.
 * @example
 * ```ts
 * process.exitCode = await runKeysCommand(['show', 'kbk_…'], io);
 * ```
 */
export async function runKeysCommand(args: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h') {
    (subcommand === undefined ? io.stderr : io.stdout)(helpText('keys'));
    return subcommand === undefined ? EXIT.usage : EXIT.ok;
  }
  if (subcommand === 'issue') return issue(rest, io);
  if (subcommand === 'show' || subcommand === 'revoke') return showOrRevoke(subcommand, rest, io);
  return usageError(io, `unknown command "keys ${subcommand}".`, 'keys');
}

async function issue(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, ISSUE_OPTIONS);
  if (!parsed.ok) return usageError(io, parsed.message, 'keys issue');
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(helpText('keysIssue'));
    return EXIT.ok;
  }
  if (positionals.length > 0) return usageError(io, `unexpected argument "${positionals[0]}".`, 'keys issue');
  let maxCalls: number | undefined;
  if (values['max-calls'] !== undefined) {
    if (!/^\d+$/.test(values['max-calls'])) return usageError(io, '--max-calls must be a whole number.', 'keys issue');
    maxCalls = Number(values['max-calls']);
  }
  let metadata: Record<string, unknown> | undefined;
  if (values.metadata !== undefined) {
    try {
      metadata = JSON.parse(values.metadata) as Record<string, unknown>;
    } catch {
      return usageError(io, '--metadata must be a JSON object.', 'keys issue');
    }
  }
  const body: IssueKeyBody = {
    vendor: values.vendor,
    parent_id: values.parent,
    cap_usd: values.cap,
    daily_cap_usd: values['daily-cap'],
    max_calls: maxCalls,
    per_call_max_usd: values['per-call-max'],
    allowed_endpoints: values.allow,
    expires_in: values['expires-in'],
    expires_with_parent: values['expires-with-parent'],
    label: values.label,
    fallback_estimate_usd: values['fallback-estimate'],
    metadata,
  };
  const admin = openAdminClient(values.url, io);
  if (typeof admin === 'number') return admin;
  const result = await admin.issueKey(body);
  if (!result.ok) return reportFailure(result, io);
  io.stdout(values.json ? `${JSON.stringify(result.body, null, 2)}\n` : formatIssuedKey(result.body));
  return EXIT.ok;
}

async function showOrRevoke(command: 'show' | 'revoke', args: string[], io: CliIo): Promise<number> {
  const name = `keys ${command}`;
  const parsed = parseCommandArgs(args, CLIENT_OPTIONS);
  if (!parsed.ok) return usageError(io, parsed.message, name);
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(helpText(command === 'show' ? 'keysShow' : 'keysRevoke'));
    return EXIT.ok;
  }
  const [named, extra] = positionals;
  if (named === undefined) return usageError(io, `${name} needs a key id (kbk_…) or the vault key.`, name);
  // Named by the vault key itself (a leaked one, say): only its id goes over the wire.
  const id = toKeyId(named);
  if (extra !== undefined) return usageError(io, `unexpected argument "${extra}".`, name);
  const admin = openAdminClient(values.url, io);
  if (typeof admin === 'number') return admin;
  if (command === 'show') {
    const result = await admin.getKey(id);
    if (!result.ok) return reportFailure(result, io);
    io.stdout(values.json ? `${JSON.stringify(result.body, null, 2)}\n` : formatKeyStatus(result.body));
    return EXIT.ok;
  }
  const result = await admin.revokeKey(id);
  if (!result.ok) return reportFailure(result, io);
  io.stdout(
    values.json
      ? `${JSON.stringify(result.body, null, 2)}\n`
      : `Revoked ${result.body.revoked.length} key${result.body.revoked.length === 1 ? '' : 's'}: ${result.body.revoked.join(', ')}\n`,
  );
  return EXIT.ok;
}

/**
 * Renders a newly issued key for a person.
 *
 * @example
 * ```ts
 * io.stdout(formatIssuedKey(issued));
 * ```
 */
export function formatIssuedKey(answer: WireIssuedKey): string {
  const key = printable(answer);
  const lines = formatColumns([
    ['  vault key', key.vault_key],
    ['  vendor', key.vendor ?? '(budget only)'],
    ['  label', key.label ?? '-'],
    ['  parent', key.parent_id ?? '-'],
    ['  root', key.root_id],
    ['  expires', key.expires_at],
  ]);
  return `Issued ${key.id}\n${lines.join('\n')}\nThe vault key is shown only once: hand it to the agent.\n`;
}

/**
 * Renders a key's status for a person: spend, caps with bars, calls, lifetime.
 *
 * @example
 * ```ts
 * io.stdout(formatKeyStatus(status));
 * ```
 */
export function formatKeyStatus(answer: WireKeyStatus): string {
  const status = printable(answer);
  const caps = formatColumns(
    status.caps.map((cap) => [
      cap.kind === 'daily' ? 'daily' : 'total',
      cap.label ?? cap.key_id,
      `${formatUsdAmount(cap.spent_usd + cap.reserved_usd)} / ${formatUsdAmount(cap.cap_usd)}`,
      formatSpendBar(cap.spent_usd + cap.reserved_usd, cap.cap_usd),
    ]),
    { right: [2] },
  );
  const state = status.revoked ? 'revoked' : status.expired ? 'expired' : 'active';
  const rows: string[][] = [
    ['  state', state],
    [
      '  spent',
      `${formatUsdAmount(status.spent_usd)}  (in flight ${formatUsdAmount(status.reserved_usd)}, remaining ${
        status.remaining_usd === null ? 'uncapped' : formatUsdAmount(status.remaining_usd)
      })`,
    ],
    ['  calls', status.max_calls === null ? String(status.calls) : `${status.calls} / ${status.max_calls}`],
    ['  endpoints', status.allowed_endpoints?.join(', ') ?? 'any of the vendor'],
    ['  expires', status.expires_at],
    ['  parent', status.parent_id ?? '-'],
    ['  root', status.root_id],
    ['  children', status.children.length === 0 ? '-' : status.children.join(', ')],
  ];
  const header = `${status.id}  ${status.label ?? '(no label)'}  (${status.vendor ?? 'budget only'})`;
  const capLines = caps.length === 0 ? ['  caps       none'] : ['  caps', ...caps.map((line) => `    ${line}`)];
  return `${header}\n${formatColumns(rows).join('\n')}\n${capLines.join('\n')}\n`;
}
