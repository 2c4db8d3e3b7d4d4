import type { z } from 'zod';

/** Field-level messages keyed by the field's dotted path (`cap_usd`, `allowed_endpoints.1`); `_` is the body itself. */
export type FieldErrors = Record<string, string>;

/**
 * Flattens a zod error into one message per field path (the first issue of each path wins).
 *
 * @param error - A zod error.
 * @returns Field messages; an issue about the whole body is under `_`.
 * @example
 * ```ts
 * toFieldErrors(schema.safeParse(body).error); // { cap_usd: 'must be a non-negative USD amount, …' }
 * ```
 */
export function toFieldErrors(error: z.ZodError): FieldErrors {
  // No prototype: a field named `constructor` or `__proto__` is a field like any other.
  const fields: FieldErrors = Object.create(null);
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) fields[[...issue.path, key].join('.')] ??= 'is not a known field';
      continue;
    }
    const path = issue.path.length === 0 ? '_' : issue.path.map(String).join('.');
    fields[path] ??= issue.message;
  }
  return fields;
}
