import type { WireAuditRecord, WireAuditTotals, WireKeyStatus } from '../wire/wire-types.js';
import { type CliIo, EXIT } from './cli-io.js';
import type { AdminClient, AdminFailure } from './create-admin-client.js';
import { formatColumns, formatSpendBar, formatUsdAmount, printable } from './format-spend-bar.js';
import { helpText } from './help-texts.js';
import { CLIENT_OPTIONS, openAdminClient, reportFailure } from './open-admin-client.js';
import { parseCommandArgs } from './parse-command-args.js';
import { usageError } from './usage-error.js';

const AUDIT_OPTIONS = {
  ...CLIENT_OPTIONS,
  root: { type: 'string' },
  key: { type: 'string' },
  label: { type: 'string' },
  vendor: { type: 'string' },
  decision: { type: 'string' },
  since: { type: 'string' },
  limit: { type: 'string' },
} as const;

/** At most this many keys are read to draw the sessions (one admin call each). */
const MAX_KEYS = 500;

/** One session of the audit report: its root key and every key under it, depth first. */
export interface AuditSession {
  root: WireKeyStatus;
  /** The root's descendants with their depth below it (1 = member). */
  members: Array<{ status: WireKeyStatus; depth: number }>;
}

/**
 * `keybrake audit`: spend against caps per session and member, then the most recent calls.
 *
 * @param args - The arguments after `audit`.
 * @param io - Output and environment.
 * @returns The exit code.
 * @example
 * ```ts
 * process.exitCode = await runAuditCommand(['--root', 'kbk_…'], io);
 * ```
 */
export async function runAuditCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, AUDIT_OPTIONS);
  if (!parsed.ok) return usageError(io, parsed.message, 'audit');
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(helpText('audit'));
    return EXIT.ok;
  }
  if (positionals.length > 0) return usageError(io, `unexpected argument "${positionals[0]}".`, 'audit');
  if (values.limit !== undefined && !/^\d+$/.test(values.limit)) {
    return usageError(io, '--limit must be a whole number.', 'audit');
  }
  const admin = openAdminClient(values.url, io);
  if (typeof admin === 'number') return admin;
  const audit = await admin.queryAudit({
    root_id: values.root,
    key_id: values.key,
    label: values.label,
    vendor: values.vendor,
    decision: values.decision,
    since: values.since,
    limit: values.limit ?? '20',
  });
  if (!audit.ok) return reportFailure(audit, io);
  if (values.json) {
    io.stdout(`${JSON.stringify(audit.body, null, 2)}\n`);
    return EXIT.ok;
  }
  const sessions = await loadSessions(admin, audit.body.records, audit.body.totals, values.root);
  if (!Array.isArray(sessions)) return reportFailure(sessions, io);
  io.stdout(formatAuditReport(sessions, audit.body.totals, audit.body.records));
  return EXIT.ok;
}

/** Reads the sessions (root keys and their trees) that the matched calls belong to. */
async function loadSessions(
  admin: AdminClient,
  records: readonly WireAuditRecord[],
  totals: readonly WireAuditTotals[],
  rootFilter: string | undefined,
): Promise<AuditSession[] | AdminFailure> {
  const statuses = new Map<string, WireKeyStatus>();
  const read = async (id: string) => {
    const known = statuses.get(id);
    if (known) return known;
    const result = await admin.getKey(id);
    if (!result.ok) {
      if (result.status === 404) return undefined;
      throw result;
    }
    statuses.set(id, result.body);
    return result.body;
  };
  try {
    const roots: string[] = [];
    const addRoot = (id: string | null | undefined) => {
      if (id && !roots.includes(id)) roots.push(id);
    };
    if (rootFilter) addRoot(rootFilter);
    else {
      // The shown calls' sessions first; then those of other calling keys, while the reads last.
      for (const record of records) addRoot(record.root_id);
      for (const total of totals) {
        if (statuses.size >= MAX_KEYS) break;
        addRoot((await read(total.key_id))?.root_id);
      }
    }
    const sessions: AuditSession[] = [];
    for (const rootId of roots) {
      if (statuses.size >= MAX_KEYS && !statuses.has(rootId)) break;
      const root = await read(rootId);
      if (!root) continue;
      const members: AuditSession['members'] = [];
      const visit = async (status: WireKeyStatus, depth: number) => {
        for (const childId of status.children) {
          if (statuses.size >= MAX_KEYS) return;
          const child = await read(childId);
          if (!child) continue;
          members.push({ status: child, depth });
          await visit(child, depth + 1);
        }
      };
      await visit(root, 1);
      sessions.push({ root, members });
    }
    return sessions;
  } catch (failure) {
    if (typeof failure === 'object' && failure !== null && 'ok' in failure) return failure as AdminFailure;
    throw failure;
  }
}

/** The cap to draw for a key: its own lifetime cap, else its own daily cap. */
function ownCap(status: WireKeyStatus): { capUsd: number; usedUsd: number; daily: boolean } | undefined {
  const own = status.caps.filter((cap) => cap.key_id === status.id);
  const cap = own.find((entry) => entry.kind === 'total') ?? own.find((entry) => entry.kind === 'daily');
  return cap && { capUsd: cap.cap_usd, usedUsd: cap.spent_usd + cap.reserved_usd, daily: cap.kind === 'daily' };
}

/**
 * Renders the audit report: per session, one line for the session and one per member, spend
 * against cap with a bar (`billing  $148.00 / $150.00  ███████████████████░  30 allowed, 70 denied`),
 * then the recent calls, newest first.
 *
 * @param sessions - The sessions with their members.
 * @param totals - Audit totals per calling key.
 * @param records - The recent audit records.
 * @returns The text.
 * @example
 * ```ts
 * io.stdout(formatAuditReport(sessions, result.totals, result.records));
 * ```
 */
export function formatAuditReport(
  sessionsAnswered: readonly AuditSession[],
  totalsAnswered: readonly WireAuditTotals[],
  recordsAnswered: readonly WireAuditRecord[],
): string {
  const [sessions, totals, records] = printable([sessionsAnswered, totalsAnswered, recordsAnswered] as const);
  const totalsById = new Map(totals.map((total) => [total.key_id, total]));
  const out: string[] = [];
  for (const { root, members } of sessions) {
    out.push(
      `Session ${root.label ?? root.id}  (${root.id}${root.revoked ? ', revoked' : root.expired ? ', expired' : ''})`,
    );
    const prefix = root.label ? `${root.label}/` : undefined;
    const rows = [{ status: root, depth: 0 }, ...members].map(({ status, depth }) => {
      const name =
        depth === 0
          ? 'session'
          : `${'  '.repeat(depth - 1)}${prefix && status.label?.startsWith(prefix) ? status.label.slice(prefix.length) : (status.label ?? status.id)}`;
      const cap = ownCap(status);
      const spent = cap?.usedUsd ?? status.spent_usd + status.reserved_usd;
      const total = totalsById.get(status.id);
      const calls = total ? `${total.allowed} allowed${total.denied > 0 ? `, ${total.denied} denied` : ''}` : '';
      return [
        `  ${name}`,
        cap
          ? `${formatUsdAmount(spent)} / ${formatUsdAmount(cap.capUsd)}${cap.daily ? '/day' : ''}`
          : `${formatUsdAmount(spent)}`,
        cap ? formatSpendBar(spent, cap.capUsd) : '(no cap of its own)',
        `${status.vendor ?? ''}`,
        `${calls}${status.revoked && depth > 0 ? ' (revoked)' : ''}`,
      ];
    });
    out.push(...formatColumns(rows, { right: [1] }), '');
  }
  if (sessions.length === 0) out.push('No sessions match.', '');
  if (records.length > 0) {
    out.push('Recent calls (newest first)');
    const rows = records.map((record) => [
      `  ${record.time.replace('T', ' ').replace(/Z$/, '')}`,
      record.label ?? record.key_id ?? '-',
      `${record.method} ${record.path}`,
      record.decision === 'allowed'
        ? `${record.vendor_status ?? ''} allowed`.trim()
        : `denied ${record.reason ?? ''}`.trim(),
      formatUsdAmount(record.decision === 'allowed' ? record.actual_usd : 0),
    ]);
    out.push(...formatColumns(rows, { right: [4] }));
  } else out.push('No calls match.');
  return `${out.join('\n')}\n`;
}
