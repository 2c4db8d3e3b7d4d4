import type { BuiltinVendorOptions } from '@keybrake/core';
import { z } from 'zod';

// Values from `--price vendor.option=value` flags arrive as strings: each schema also accepts the text form.
const usd = z.union([z.number(), z.string()]);
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]);
const count = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);
const endpoints = z.union([
  z.array(z.string()),
  z.string().transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  ),
]);

/**
 * Cost-model options of the built-in vendors (core's `BuiltinVendorOptions`), as JSON or flags.
 *
 * @example
 * ```ts
 * pricesSchema.parse({ twilio: { smsSegmentUsd: '0.0083', defaultCallMinutes: '5' } }); // defaultCallMinutes: 5
 * ```
 */
export const pricesSchema = z.strictObject({
  stripe: z
    .strictObject({
      prices: z.record(z.string(), z.strictObject({ unitAmount: count, currency: z.string().min(3) })).optional(),
      creditRefunds: flag.optional(),
      zeroCostEndpoints: endpoints.optional(),
    })
    .optional(),
  twilio: z
    .strictObject({
      smsSegmentUsd: usd.optional(),
      smsSegmentUsdByPrefix: z.record(z.string(), usd).optional(),
      mmsUsd: usd.optional(),
      callPerMinuteUsd: usd.optional(),
      callPerMinuteUsdByPrefix: z.record(z.string(), usd).optional(),
      defaultCallMinutes: count.optional(),
      zeroCostEndpoints: endpoints.optional(),
    })
    .optional(),
  resend: z.strictObject({ perEmailUsd: usd.optional(), zeroCostEndpoints: endpoints.optional() }).optional(),
}) satisfies z.ZodType<BuiltinVendorOptions, unknown>;

const twilioSecret = z.union([
  z.strictObject({ accountSid: z.string(), authToken: z.string() }),
  z.strictObject({ accountSid: z.string(), apiKeySid: z.string(), apiKeySecret: z.string() }),
]);

/**
 * The JSON config file of `keybrake serve --config`. Every field is optional; flags and the
 * environment override it. Secrets may be kept here (mind the file's permissions) or in the
 * environment; the admin token only comes from `KEYBRAKE_ADMIN_TOKEN`.
 *
 * @example
 * ```ts
 * serveConfigFileSchema.parse({ port: 8787, upstreams: { stripe: 'http://127.0.0.1:12111' } });
 * ```
 */
export const serveConfigFileSchema = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65_535).optional(),
  secrets: z
    .strictObject({
      stripe: z.string().optional(),
      twilio: twilioSecret.optional(),
      resend: z.string().optional(),
    })
    .optional(),
  upstreams: z.record(z.string(), z.url({ protocol: /^https?$/ })).optional(),
  fx: z.union([z.string(), z.record(z.string(), z.union([z.number(), z.string()]))]).optional(),
  prices: pricesSchema.optional(),
  auditFile: z.string().min(1).optional(),
  redisUrl: z.string().min(1).optional(),
  redisPrefix: z.string().min(1).optional(),
  maxBodyBytes: z.number().int().positive().optional(),
  upstreamTimeout: z.union([z.string(), z.number().positive()]).optional(),
  reservationTtl: z.union([z.string(), z.number().positive()]).optional(),
  mode: z.enum(['test', 'live']).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  publicMetrics: z.boolean().optional(),
});

/** The parsed config file of `keybrake serve --config`. */
export type ServeConfigFile = z.output<typeof serveConfigFileSchema>;
