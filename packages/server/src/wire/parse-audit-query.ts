import { type AuditQuery, parseAuditTime } from '@keybrake/core';
import { z } from 'zod';
import { type FieldErrors, toFieldErrors } from './to-field-errors.js';

/**
 * Epoch milliseconds (`0`, or 10 digits or more: `2024` is not a time), or an ISO 8601 date or
 * date-time as core reads it (a date that does not exist, `2026-02-30`, is refused, not rolled over).
 */
const EPOCH_MS = /^(0|\d{10,})$/;
const time = z
  .string()
  .min(1)
  .refine((value) => EPOCH_MS.test(value) || parseAuditTime(value) !== undefined, {
    error: 'must be an ISO 8601 time (2026-11-27T10:00:00Z) or epoch milliseconds',
  })
  .transform((value) => (EPOCH_MS.test(value) ? Number(value) : value));

const auditQuerySchema = z.strictObject({
  root_id: z.string().min(1).optional(),
  key_id: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
  vendor: z.string().min(1).optional(),
  decision: z.enum(['allowed', 'denied']).optional(),
  since: time.optional(),
  until: time.optional(),
  limit: z
    .string()
    .regex(/^\d+$/, { error: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(1).max(1000))
    .optional(),
});

/** The result of {@link parseAuditQuery}: the query, or field-level errors. */
export type ParsedAuditQuery = { ok: true; query: AuditQuery } | { ok: false; fields: FieldErrors };

/**
 * Validates the query string of `GET /vault/audit`: `root_id`, `key_id`, `label`, `vendor`,
 * `decision`, `since`, `until` (ISO 8601 or epoch ms) and `limit` (1–1000, default 100).
 * Unknown or repeated parameters are rejected.
 *
 * @param search - The query string.
 * @returns Core's {@link AuditQuery}, or field messages.
 * @example
 * ```ts
 * parseAuditQuery(new URLSearchParams('root_id=kbk_1&limit=20')); // { ok: true, query: { rootKeyId: 'kbk_1', limit: 20 } }
 * ```
 */
export function parseAuditQuery(search: URLSearchParams): ParsedAuditQuery {
  // No prototypes: `__proto__=x` or `valueOf=x` is a parameter like any other (and unknown).
  const raw: Record<string, string> = Object.create(null);
  const fields: FieldErrors = Object.create(null);
  for (const [name, value] of search) {
    if (Object.hasOwn(raw, name)) fields[name] = 'is given more than once';
    raw[name] = value;
  }
  const parsed = auditQuerySchema.safeParse(raw);
  if (!parsed.success) Object.assign(fields, toFieldErrors(parsed.error));
  if (!parsed.success || Object.keys(fields).length > 0) return { ok: false, fields };
  const data = parsed.data;
  return {
    ok: true,
    query: {
      rootKeyId: data.root_id,
      keyId: data.key_id,
      label: data.label,
      vendor: data.vendor,
      decision: data.decision,
      since: data.since,
      until: data.until,
      limit: data.limit,
    },
  };
}
