import type { AuditMemberTotals, AuditQuery, AuditQueryResult, AuditRecord, AuditTotals } from './audit-record.js';
import { parseAuditTime } from './parse-audit-time.js';

/**
 * Filters records (any order) by an {@link AuditQuery}: newest first, at most `limit`, with
 * per-key totals over everything matched. Shared by the built-in sinks.
 *
 * @example
 * ```ts
 * queryAuditRecords(records, { rootKeyId: session.id, limit: 20 });
 * ```
 */
export function queryAuditRecords(records: Iterable<AuditRecord>, query: AuditQuery): AuditQueryResult {
  const since = query.since === undefined ? undefined : parseAuditTime(query.since);
  const until = query.until === undefined ? undefined : parseAuditTime(query.until);
  const matched: AuditRecord[] = [];
  for (const record of records) {
    if (query.rootKeyId !== undefined && record.rootKeyId !== query.rootKeyId) continue;
    if (query.keyId !== undefined && record.keyId !== query.keyId) continue;
    if (query.label !== undefined && record.label !== query.label && !record.labelChain.includes(query.label)) continue;
    if (query.vendor !== undefined && record.vendor !== query.vendor) continue;
    if (query.decision !== undefined && record.decision !== query.decision) continue;
    const time = Date.parse(record.time);
    if (since !== undefined && time < since) continue;
    if (until !== undefined && time >= until) continue;
    matched.push(record);
  }
  // Newest first; records of the same millisecond stay newest first too (the sort is stable).
  matched.reverse();
  matched.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  const totals = new Map<string, AuditTotals>();
  const members = new Map<string, AuditMemberTotals>();
  for (const record of matched) {
    const member = record.actor?.member;
    if (member !== undefined) {
      let entry = members.get(member);
      if (!entry) {
        entry = { member, calls: 0, allowed: 0, denied: 0, spentMicros: 0 };
        members.set(member, entry);
      }
      entry.calls += 1;
      if (record.decision === 'allowed') entry.allowed += 1;
      else entry.denied += 1;
      entry.spentMicros += record.actualMicros;
    }
    const keyId = record.keyId ?? '(unknown key)';
    let entry = totals.get(keyId);
    if (!entry) {
      entry = { keyId, label: record.label, calls: 0, allowed: 0, denied: 0, spentMicros: 0 };
      totals.set(keyId, entry);
    }
    entry.calls += 1;
    if (record.decision === 'allowed') entry.allowed += 1;
    else entry.denied += 1;
    entry.spentMicros += record.actualMicros;
  }
  return {
    records: matched.slice(0, query.limit ?? 100),
    totals: [...totals.values()],
    memberTotals: [...members.values()],
  };
}
