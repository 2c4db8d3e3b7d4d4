import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
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
 * Records sit in a fixed ring, so a write costs the same with 10 records or `maxRecords` (a `Map`
 * used as a queue would slow every write once full: V8 walks the deleted entries to find the oldest).
 *
 * @throws {InvalidPolicyError} if `maxRecords` is not a positive integer.
 * @example
 * ```ts
 * const audit = createMemoryAuditSink();
 * const { records, totals } = await audit.query({ rootKeyId });
 * ```
 */
export function createMemoryAuditSink(options: MemoryAuditSinkOptions = {}): AuditSink {
  const maxRecords = options.maxRecords ?? 100_000;
  if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
    throw new InvalidPolicyError({ message: `maxRecords must be a positive integer, got ${maxRecords}.` });
  }
  const ring: AuditRecord[] = [];
  /** Record id → its slot in the ring. */
  const slots = new Map<string, number>();
  /** The slot the next new record overwrites once the ring is full (the oldest). */
  let oldest = 0;

  function* inOrder(): Generator<AuditRecord> {
    for (let index = oldest; index < ring.length; index++) yield ring[index] as AuditRecord;
    for (let index = 0; index < oldest; index++) yield ring[index] as AuditRecord;
  }

  return {
    write(record) {
      const slot = slots.get(record.id);
      if (slot !== undefined) {
        ring[slot] = record;
        return;
      }
      if (ring.length < maxRecords) {
        slots.set(record.id, ring.length);
        ring.push(record);
        return;
      }
      slots.delete((ring[oldest] as AuditRecord).id);
      ring[oldest] = record;
      slots.set(record.id, oldest);
      oldest = (oldest + 1) % maxRecords;
    },
    query: async (query) => queryAuditRecords(inOrder(), query),
    flush: async () => {},
  };
}
