import type { AuditRecord, AuditSink } from './audit-record.js';
import { queryAuditRecords } from './query-audit-records.js';

/** Options of {@link createMemoryAuditSink}. */
export interface MemoryAuditSinkOptions {
  /** Oldest records are dropped past this many. @default 100_000 */
  maxRecords?: number;
}

/**
 * The default audit sink: records in memory, newest kept, queryable. A record written again with
 * the same id (a late price) replaces the earlier one.
 *
 * @example
 * ```ts
 * const audit = createMemoryAuditSink();
 * const { records, totals } = await audit.query({ rootKeyId });
 * ```
 */
export function createMemoryAuditSink(options: MemoryAuditSinkOptions = {}): AuditSink {
  const maxRecords = options.maxRecords ?? 100_000;
  const records = new Map<string, AuditRecord>();
  return {
    write(record) {
      records.delete(record.id);
      records.set(record.id, record);
      if (records.size > maxRecords) {
        const oldest = records.keys().next().value;
        if (oldest !== undefined) records.delete(oldest);
      }
    },
    query: async (query) => queryAuditRecords(records.values(), query),
    flush: async () => {},
  };
}
