import { KeybrakeError } from '@keybrake/ai-sdk';
import type { StepResult, ToolSet } from 'ai';

/** One row of the audit table. */
export interface MemberAudit {
  member: string;
  calls: number;
  allowed: number;
  denied: number;
  spentUsd: number;
  capUsd: number;
}

const usd = (amount: number) => `$${amount.toFixed(amount > 0 && amount < 0.1 ? 4 : 2)}`;
const pad = (name: string) => name.padEnd(14);
const quote = (text: string, max = 96) => `"${text.length > max ? `${text.slice(0, max - 1)}…` : text}"`;

/**
 * Wraps a long line at `width` columns, indenting continuation lines.
 *
 * @example
 * ```ts
 * wrap('  a long sentence', 8, '    '); // ['  a long', '    sentence']
 * ```
 */
export function wrap(text: string, width: number, indent: string): string[] {
  const lead = text.match(/^ */)?.[0] ?? '';
  const lines: string[] = [];
  let line = lead;
  for (const word of text.slice(lead.length).split(' ')) {
    if (line.trim() && line.length + word.length + 1 > width) {
      lines.push(line);
      line = indent + word;
    } else line = line.trim() ? `${line} ${word}` : `${line}${word}`;
  }
  return [...lines, line];
}

function describeInput(toolName: string, input: unknown): string {
  const fields = (input ?? {}) as Record<string, unknown>;
  switch (toolName) {
    case 'charge':
      return `${String(fields.customer)} ${usd(Number(fields.amountUsd))}`;
    case 'check_payment':
      return String(fields.paymentIntent);
    case 'send_sms':
      return `to ${String(fields.to)}`;
    default:
      return '';
  }
}

function describeOutput(toolName: string, output: unknown): string {
  if (toolName === 'list_customers' && Array.isArray(output)) {
    const overdue = output.filter((customer: { overdue?: boolean }) => customer.overdue).length;
    return `${output.length} customers, ${overdue} overdue`;
  }
  const fields = (output ?? {}) as Record<string, unknown>;
  return [fields.paymentIntent, fields.sid, fields.status].filter(Boolean).map(String).join(' ');
}

/**
 * Readable lines for one step of a member agent: its tool calls (batched when parallel), what
 * they returned, the moment Keybrake stopped it, and what it said.
 *
 * @example
 * ```ts
 * onStepEnd: (step) => formatStep('billing', step).forEach((line) => console.log(line)),
 * ```
 */
export function formatStep(member: string, step: StepResult<ToolSet>): string[] {
  const lines: string[] = [];
  const outcomes = new Map(
    step.content.flatMap((part) =>
      part.type === 'tool-result' || part.type === 'tool-error' ? [[part.toolCallId, part] as const] : [],
    ),
  );
  const groups = new Map<string, typeof step.toolCalls>();
  for (const call of step.toolCalls) groups.set(call.toolName, [...(groups.get(call.toolName) ?? []), call]);
  for (const [toolName, calls] of groups) {
    const results = calls.map((call) => outcomes.get(call.toolCallId));
    const denied = results.filter((part) => part?.type === 'tool-error' && KeybrakeError.isInstance(part.error));
    const failed = results.filter((part) => part?.type === 'tool-error').length - denied.length;
    if (calls.length > 3) {
      const first = describeInput(toolName, calls[0]?.input);
      const last = describeInput(toolName, calls.at(-1)?.input);
      const ok = calls.length - denied.length - failed;
      const verdict = [`${ok} ok`, denied.length && `${denied.length} denied by Keybrake`, failed && `${failed} failed`]
        .filter(Boolean)
        .join(', ');
      lines.push(`  ${pad(member)} ${toolName} ×${calls.length}  ${first} … ${last}  → ${verdict}`);
    } else {
      for (const [index, call] of calls.entries()) {
        const part = results[index];
        const result =
          part?.type === 'tool-result'
            ? describeOutput(toolName, part.output)
            : part?.type === 'tool-error'
              ? KeybrakeError.isInstance(part.error)
                ? `denied: ${part.error.code}`
                : `failed: ${String(part.error)}`
              : '';
        lines.push(`  ${pad(member)} ${`${toolName} ${describeInput(toolName, call.input)}`.trim()}  → ${result}`);
      }
    }
    const stop = denied[0];
    if (stop?.type === 'tool-error' && KeybrakeError.isInstance(stop.error)) {
      lines.push(...wrap(`  ✋ Keybrake stopped ${member}: ${stop.error.code}: ${stop.error.message}`, 110, '     '));
    }
  }
  if (step.text) lines.push(...wrap(`  ${pad(member)} says: ${quote(step.text, 400)}`, 110, '                 '));
  return lines;
}

/**
 * The line printed when the supervisor delegates, and when the delegation returns or fails.
 *
 * @example
 * ```ts
 * formatDelegation('delegate_billing', { task: 'Charge …' }); // 'supervisor → delegate_billing "Charge …"'
 * ```
 */
export function formatDelegation(toolName: string, input: unknown, outcome?: { output?: unknown; error?: unknown }) {
  if (!outcome) return `supervisor     → ${toolName} ${quote(String((input as { task?: unknown }).task ?? ''))}`;
  const { error } = outcome;
  if (error === undefined) return `supervisor     ← ${toolName} ${quote(String(outcome.output))}`;
  if (!KeybrakeError.isInstance(error)) return `supervisor     ← ${toolName} tool-error ${String(error)}`;
  const fields = error.toJSON();
  const figures =
    typeof fields.capUsd === 'number' && typeof fields.spentUsd === 'number'
      ? ` · cap ${usd(fields.capUsd)} · spent ${usd(fields.spentUsd)}`
      : '';
  return `supervisor     ← ${toolName} tool-error ${error.code} · ${String(fields.label)}${figures}`;
}

/**
 * The audit table: calls, allowed, denied and spend per member, and the session's total.
 *
 * @example
 * ```ts
 * formatAuditTable(rows, { spentUsd: 150.03, capUsd: 200 });
 * ```
 */
export function formatAuditTable(rows: MemberAudit[], session: { spentUsd: number; capUsd: number }): string[] {
  const line = (cells: string[]) =>
    `  ${cells[0]?.padEnd(14)}${cells
      .slice(1)
      .map((cell) => cell.padStart(9))
      .join('')}`;
  const total = (field: 'calls' | 'allowed' | 'denied') => String(rows.reduce((sum, row) => sum + row[field], 0));
  return [
    line(['member', 'calls', 'allowed', 'denied', 'spent', 'cap']),
    ...rows.map((row) =>
      line([
        row.member,
        String(row.calls),
        String(row.allowed),
        String(row.denied),
        usd(row.spentUsd),
        usd(row.capUsd),
      ]),
    ),
    line(['session', total('calls'), total('allowed'), total('denied'), usd(session.spentUsd), usd(session.capUsd)]),
  ];
}
