import { formatUsd, type TeamMember } from '@keybrake/core';

/**
 * A member by name (`'billing'`) or by its team-session handle (`team.member('billing')`); with the
 * handle, reports also state the member's budget as it stands.
 */
export type MemberRef = string | (Pick<TeamMember, 'name'> & Partial<Pick<TeamMember, 'label' | 'status'>>);

/**
 * The name of a {@link MemberRef}.
 *
 * @example
 * ```ts
 * memberName(team.member('billing')); // 'billing'
 * ```
 */
export const memberName = (member: MemberRef): string => (typeof member === 'string' ? member : member.name);

/**
 * The member's budget as it stands, for reports: `Budget of <label> now: spent $X of $Y, $Z left.`
 *
 * @returns The line, or `undefined` for a bare name, or when the status cannot be read (the report
 *   is still sent, without this line, rather than failing the member's run).
 * @example
 * ```ts
 * await budgetLine(team.member('billing')); // 'Budget of billing-team/sess_42/billing now: spent $150.00 of $150.00, $0.00 left.'
 * ```
 */
export async function budgetLine(member: MemberRef): Promise<string | undefined> {
  if (typeof member === 'string' || member.status === undefined) return undefined;
  try {
    const status = await member.status();
    const own = status.caps.find((cap) => cap.keyId === status.id && cap.kind === 'total');
    const cap = own ? ` of ${formatUsd(own.capMicros)}` : '';
    const remaining = status.caps.map((each) => each.remainingMicros);
    const left = remaining.length > 0 ? `, ${formatUsd(Math.min(...remaining))} left` : '';
    return `Budget of ${status.label ?? member.label ?? member.name} now: spent ${formatUsd(status.spentMicros)}${cap}${left}.`;
  } catch {
    return undefined;
  }
}
