import { type AuditQueryResult, fromMicroUsd } from '@keybrake/core';
import { toWireAuditRecord } from './to-wire-audit-record.js';
import type { WireAuditResult } from './wire-types.js';

/**
 * Renders an audit query result for the wire.
 *
 * @example
 * ```ts
 * toWireAuditResult(await vault.queryAudit({ rootKeyId })).totals[0]?.spent_usd;
 * ```
 */
export function toWireAuditResult(result: AuditQueryResult): WireAuditResult {
  return {
    records: result.records.map(toWireAuditRecord),
    totals: result.totals.map((total) => ({
      key_id: total.keyId,
      label: total.label ?? null,
      calls: total.calls,
      allowed: total.allowed,
      denied: total.denied,
      spent_usd: fromMicroUsd(total.spentMicros),
    })),
    member_totals: result.memberTotals.map((total) => ({
      member: total.member,
      calls: total.calls,
      allowed: total.allowed,
      denied: total.denied,
      spent_usd: fromMicroUsd(total.spentMicros),
    })),
  };
}
