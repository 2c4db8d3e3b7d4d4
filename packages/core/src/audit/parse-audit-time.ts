/** An ISO 8601 date or date-time: `2026-11-27`, `2026-11-27T10:00`, with seconds, a fraction, `Z` or an offset. */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Reads an audit query's `since` or `until`: epoch milliseconds as they are, or an ISO 8601 date or
 * date-time (one without an offset is UTC, as the records' times are). A date or time that does not
 * exist is not one: `Date.parse` would roll `2026-02-30` over to 2026-03-02 and `T24:00` to the next
 * day, and filter from a time other than the one asked for.
 *
 * @param value - Epoch milliseconds or an ISO 8601 time.
 * @returns Epoch milliseconds, or `undefined` if `value` is not a time.
 * @example
 * ```ts
 * parseAuditTime('2026-11-27T10:00'); // 1795773600000
 * parseAuditTime('2026-02-30'); // undefined
 * ```
 */
export function parseAuditTime(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  const match = ISO_TIME.exec(value);
  if (!match) return undefined;
  // Year, month, day, and hours, minutes and seconds (0 if not written).
  const fields = match.slice(1, 7).map((field) => Number(field ?? 0));
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = fields;
  // The fields as written must read back from the UTC time they make: none rolled over.
  const written = new Date(0);
  written.setUTCFullYear(year, month - 1, day);
  written.setUTCHours(hour, minute, second);
  const readBack = [
    written.getUTCFullYear(),
    written.getUTCMonth() + 1,
    written.getUTCDate(),
    written.getUTCHours(),
    written.getUTCMinutes(),
    written.getUTCSeconds(),
  ];
  if (readBack.join() !== fields.join()) return undefined;
  // A date-time without an offset is UTC (`Date.parse` would read it in the local time zone).
  const time = Date.parse(match[4] !== undefined && match[7] === undefined ? `${value}Z` : value);
  return Number.isNaN(time) ? undefined : time;
}
