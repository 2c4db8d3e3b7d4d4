import { type IssueKeyOptions, KeybrakeError, parseDuration, parseEndpointPattern, toMicroUsd } from '@keybrake/core';
import { z } from 'zod';
import { type FieldErrors, toFieldErrors } from './to-field-errors.js';

/** Runs a core parser in a zod refinement, turning its `KeybrakeError` into a field message. */
function checkedBy<T>(parse: (value: T) => unknown) {
  return (value: T, context: z.RefinementCtx) => {
    try {
      parse(value);
    } catch (error) {
      if (!KeybrakeError.isInstance(error)) throw error;
      context.addIssue({ code: 'custom', message: error.message });
    }
  };
}

const usd = z
  .union([z.number().finite().nonnegative(), z.string().trim().min(1)], {
    error: 'must be a non-negative USD amount, e.g. 150 or "0.0083"',
  })
  .superRefine(checkedBy(toMicroUsd));
const duration = z
  .union([z.number().positive(), z.string().trim().min(1)], {
    error: 'must be seconds or a duration such as "30m", "1h", "7d"',
  })
  .superRefine(checkedBy(parseDuration));
const label = z.string().min(1).max(200);

function issueKeyBodySchema(vendors: readonly string[]) {
  return z
    .strictObject({
      vendor: z
        .string()
        .refine((name) => vendors.includes(name), {
          error: `must be one of the vendors this proxy fronts: ${vendors.join(', ')}`,
        })
        .optional(),
      parent_id: z
        .string()
        .regex(/^kbk_[0-9A-Za-z]+$/, { error: 'must be a key id, kbk_…' })
        .optional(),
      cap_usd: usd.optional(),
      daily_usd_cap: usd.optional(),
      daily_cap_usd: usd.optional(),
      max_calls: z.number().int().nonnegative().optional(),
      per_call_max_usd: usd.optional(),
      allowed_endpoints: z
        .array(z.string().superRefine(checkedBy(parseEndpointPattern)))
        .max(500)
        .optional(),
      expires_in: duration.optional(),
      expires_with_parent: z.boolean().optional(),
      agent_run_label: label.optional(),
      label: label.optional(),
      fallback_estimate_usd: usd.optional(),
      // Kept as sent (a record schema would rebuild it and drop a `__proto__` key): the vault
      // checks its depth, size and keys.
      metadata: z
        .custom<Record<string, unknown>>(
          (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
          { error: 'must be a JSON object' },
        )
        .optional(),
    })
    .superRefine((body, context) => {
      if (body.daily_usd_cap !== undefined && body.daily_cap_usd !== undefined) {
        context.addIssue({
          code: 'custom',
          path: ['daily_cap_usd'],
          message: 'give daily_usd_cap or daily_cap_usd, not both',
        });
      }
      if (body.agent_run_label !== undefined && body.label !== undefined) {
        context.addIssue({ code: 'custom', path: ['label'], message: 'give agent_run_label or label, not both' });
      }
    });
}

/** The request body of `POST /vault/keys`, as JSON. Amounts are USD numbers or decimal strings. */
export type IssueKeyBody = z.input<ReturnType<typeof issueKeyBodySchema>>;

/** Options of {@link parseIssueKeyBody}. */
export interface ParseIssueKeyBodyOptions {
  /** The parsed JSON body. */
  body: unknown;
  /** The vendors the vault fronts (`vault.vendors`). */
  vendors: readonly string[];
}

/** The result of {@link parseIssueKeyBody}: the policy to issue, or field-level errors. */
export type ParsedIssueKeyBody = { ok: true; options: IssueKeyOptions } | { ok: false; fields: FieldErrors };

/**
 * Validates the JSON body of `POST /vault/keys` (snake_case, unknown fields rejected) and maps it to
 * core's {@link IssueKeyOptions}. Amounts, durations and endpoint patterns are checked with core's
 * own parsers, so a body that passes here fails in core only on rules that need the key store
 * (a child's cap over its parent's remaining budget, …).
 *
 * @param options - The body and the vault's vendors.
 * @returns The options for `vault.issueKey`, or field messages keyed by snake_case path.
 * @example
 * ```ts
 * const parsed = parseIssueKeyBody({ body: { vendor: 'stripe', cap_usd: 150 }, vendors: vault.vendors });
 * if (parsed.ok) await vault.issueKey(parsed.options);
 * ```
 */
export function parseIssueKeyBody({ body, vendors }: ParseIssueKeyBodyOptions): ParsedIssueKeyBody {
  const parsed = issueKeyBodySchema(vendors).safeParse(body);
  if (!parsed.success) return { ok: false, fields: toFieldErrors(parsed.error) };
  const data = parsed.data;
  return {
    ok: true,
    options: {
      vendor: data.vendor,
      parentId: data.parent_id,
      capUsd: data.cap_usd,
      dailyCapUsd: data.daily_usd_cap ?? data.daily_cap_usd,
      maxCalls: data.max_calls,
      perCallMaxUsd: data.per_call_max_usd,
      allowedEndpoints: data.allowed_endpoints,
      expiresIn: data.expires_in,
      expiresWithParent: data.expires_with_parent,
      label: data.agent_run_label ?? data.label,
      fallbackEstimateUsd: data.fallback_estimate_usd,
      metadata: data.metadata,
    },
  };
}
