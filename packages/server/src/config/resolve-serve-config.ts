import {
  type BuiltinVendorOptions,
  type FxRates,
  InvalidPolicyError,
  type KeyMode,
  parseDuration,
  parseFxRates,
  type VaultSecrets,
} from '@keybrake/core';
import type { LevelWithSilent } from 'pino';
import { toFieldErrors } from '../wire/to-field-errors.js';
import { pricesSchema, type ServeConfigFile, serveConfigFileSchema } from './serve-config-schema.js';

/** The flags of `keybrake serve`, as parsed (strings; repeatable flags as arrays). */
export interface ServeFlags {
  host?: string | undefined;
  port?: string | undefined;
  upstream?: string[] | undefined;
  fx?: string | undefined;
  price?: string[] | undefined;
  auditFile?: string | undefined;
  redisUrl?: string | undefined;
  redisPrefix?: string | undefined;
  maxBodyBytes?: string | undefined;
  upstreamTimeout?: string | undefined;
  reservationTtl?: string | undefined;
  mode?: string | undefined;
  logLevel?: string | undefined;
  publicMetrics?: boolean | undefined;
}

/** Everything `keybrake serve` needs, resolved from flags, the environment and the config file. */
export interface ServeConfig {
  host: string;
  port: number;
  adminToken: string;
  secrets: VaultSecrets;
  upstreams: Record<string, string>;
  fx: FxRates;
  prices: BuiltinVendorOptions;
  auditFile?: string | undefined;
  redisUrl?: string | undefined;
  /**
   * Prefix of every Redis key (`KEYBRAKE_REDIS_PREFIX`): replicas sharing it share keys, ledger and
   * audit. Defaults to one per mode, `keybrake:test:` or `keybrake:live:`, so test and live
   * replicas on one Redis never see each other's keys or spend.
   */
  redisPrefix: string;
  maxBodyBytes: number;
  upstreamTimeout: string | number;
  /** The vault's `reservationTtl`; `undefined`: the vault's default (10 minutes, or longer if the upstream timeout needs it). */
  reservationTtl?: string | number | undefined;
  mode: KeyMode;
  logLevel: LevelWithSilent;
  publicMetrics: boolean;
}

/** Options of {@link resolveServeConfig}. */
export interface ResolveServeConfigOptions {
  flags: ServeFlags;
  /** The environment (`process.env`). */
  env: Readonly<Record<string, string | undefined>>;
  /** The parsed JSON of the `--config` file, if any (validated here). */
  file?: unknown;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Resolves the configuration of `keybrake serve`. Precedence: flags, then the environment, then
 * the config file, then defaults (`127.0.0.1:8787`, 1 MiB bodies, 60 s upstream timeout, `test`
 * keys). Secrets come from the environment (`STRIPE_SECRET_KEY`, `TWILIO_ACCOUNT_SID` with
 * `TWILIO_AUTH_TOKEN` or `TWILIO_API_KEY_SID`/`TWILIO_API_KEY_SECRET`, `RESEND_API_KEY`) or the
 * file, never from flags (they would show in `ps`).
 *
 * @param options - Flags, environment and file.
 * @returns The resolved {@link ServeConfig}.
 * @throws {InvalidPolicyError} with a readable message if anything is missing or malformed, above
 *   all a missing `KEYBRAKE_ADMIN_TOKEN`.
 * @example
 * ```ts
 * const config = resolveServeConfig({ flags: { port: '0', fx: 'jpy=0.0067' }, env: process.env });
 * ```
 */
export function resolveServeConfig(options: ResolveServeConfigOptions): ServeConfig {
  const { flags, env } = options;
  const file = parseConfigFile(options.file);
  // An empty variable counts as unset: compose files and systemd units set `NAME=` for an absent
  // value, which must not override the config file (an empty host would listen on every interface).
  const fromEnv = (name: string) => (env[name]?.trim() === '' ? undefined : env[name]);
  for (const [flag, value] of [
    ['--host', flags.host],
    ['--audit-file', flags.auditFile],
    ['--redis-url', flags.redisUrl],
    ['--fx', flags.fx],
  ] as const) {
    if (value?.trim() === '') throw new InvalidPolicyError({ message: `${flag} must not be empty.` });
  }

  const adminToken = env.KEYBRAKE_ADMIN_TOKEN ?? '';
  if (adminToken === '') {
    throw new InvalidPolicyError({
      message:
        'KEYBRAKE_ADMIN_TOKEN is not set: the proxy refuses to start without an admin token. Generate one (e.g. `openssl rand -hex 32`) and export it.',
    });
  }
  if (adminToken.length < 16) {
    throw new InvalidPolicyError({ message: 'KEYBRAKE_ADMIN_TOKEN must be at least 16 characters.' });
  }
  if (!/^[\x21-\x7e]+$/.test(adminToken)) {
    throw new InvalidPolicyError({
      message:
        'KEYBRAKE_ADMIN_TOKEN must be printable ASCII without spaces (check for a trailing newline or \\r from an env file).',
    });
  }

  // Named as the user set it: the flag, or the variable.
  const portSource = flags.port !== undefined || fromEnv('KEYBRAKE_PORT') === undefined ? '--port' : 'KEYBRAKE_PORT';
  const port = toInteger(portSource, flags.port ?? fromEnv('KEYBRAKE_PORT'), file.port ?? 8787);
  if (port > 65_535) throw new InvalidPolicyError({ message: `${portSource} must be 0–65535, got ${port}.` });
  const maxBodyBytes = toInteger('--max-body-bytes', flags.maxBodyBytes, file.maxBodyBytes ?? 1_048_576);
  if (maxBodyBytes < 1) throw new InvalidPolicyError({ message: '--max-body-bytes must be positive.' });

  const mode = flags.mode ?? fromEnv('KEYBRAKE_MODE') ?? file.mode ?? 'test';
  if (mode !== 'test' && mode !== 'live') {
    throw new InvalidPolicyError({ message: `--mode must be test or live, got ${JSON.stringify(mode)}.` });
  }
  const redisPrefix = flags.redisPrefix ?? fromEnv('KEYBRAKE_REDIS_PREFIX') ?? file.redisPrefix ?? `keybrake:${mode}:`;
  if (redisPrefix === '') throw new InvalidPolicyError({ message: '--redis-prefix must not be empty.' });
  const logLevel = flags.logLevel ?? fromEnv('KEYBRAKE_LOG_LEVEL') ?? file.logLevel ?? 'info';
  if (!(LEVELS as readonly string[]).includes(logLevel)) {
    throw new InvalidPolicyError({ message: `--log-level must be one of ${LEVELS.join(', ')}.` });
  }

  const fxText = flags.fx ?? fromEnv('KEYBRAKE_FX');
  if (fxText !== undefined && Object.keys(parseFxRates(fxText)).length === 0) {
    // `,` would replace the file's rates with none, and deny every charge not in dollars.
    throw new InvalidPolicyError({ message: `--fx (or KEYBRAKE_FX) names no rate: ${JSON.stringify(fxText)}.` });
  }
  const fx =
    fxText !== undefined ? parseFxRates(fxText) : typeof file.fx === 'string' ? parseFxRates(file.fx) : file.fx;

  return {
    host: flags.host ?? fromEnv('KEYBRAKE_HOST') ?? file.host ?? '127.0.0.1',
    port,
    adminToken,
    secrets: resolveSecrets(env, file),
    upstreams: { ...file.upstreams, ...parseUpstreams(flags.upstream ?? []) },
    fx: fx ?? {},
    prices: resolvePrices(file.prices, flags.price ?? []),
    auditFile: flags.auditFile ?? fromEnv('KEYBRAKE_AUDIT_FILE') ?? file.auditFile,
    redisUrl: flags.redisUrl ?? fromEnv('KEYBRAKE_REDIS_URL') ?? file.redisUrl,
    redisPrefix,
    maxBodyBytes,
    upstreamTimeout: checkDuration('--upstream-timeout', flags.upstreamTimeout ?? file.upstreamTimeout ?? '60s'),
    reservationTtl: checkDuration('--reservation-ttl', flags.reservationTtl ?? file.reservationTtl),
    mode,
    logLevel: logLevel as LevelWithSilent,
    publicMetrics: flags.publicMetrics ?? file.publicMetrics ?? false,
  };
}

function parseConfigFile(file: unknown): ServeConfigFile {
  if (file === undefined) return {};
  const parsed = serveConfigFileSchema.safeParse(file);
  if (parsed.success) return parsed.data;
  throw new InvalidPolicyError({ message: `Invalid config file: ${describeFields(toFieldErrors(parsed.error))}` });
}

function describeFields(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([path, message]) => `${path} ${message}`)
    .join('; ');
}

/** The duration as given, once it parses, or an error naming the option it came from. */
function checkDuration<T extends string | number | undefined>(name: string, value: T): T {
  if (value === undefined) return value;
  try {
    parseDuration(value);
  } catch (error) {
    throw new InvalidPolicyError({ message: `${name}: ${(error as Error).message}`, cause: error });
  }
  return value;
}

function toInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new InvalidPolicyError({
      message: `${name} must be a whole number up to ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(text.slice(0, 40))}.`,
    });
  return Number(text);
}

function resolveSecrets(env: ResolveServeConfigOptions['env'], file: ServeConfigFile): VaultSecrets {
  const secrets: VaultSecrets = { ...file.secrets };
  if (env.STRIPE_SECRET_KEY) secrets.stripe = env.STRIPE_SECRET_KEY;
  if (env.RESEND_API_KEY) secrets.resend = env.RESEND_API_KEY;
  const accountSid = env.TWILIO_ACCOUNT_SID;
  if (accountSid) {
    if (env.TWILIO_API_KEY_SID || env.TWILIO_API_KEY_SECRET) {
      if (!env.TWILIO_API_KEY_SID || !env.TWILIO_API_KEY_SECRET) {
        throw new InvalidPolicyError({ message: 'Set both TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET, or neither.' });
      }
      secrets.twilio = { accountSid, apiKeySid: env.TWILIO_API_KEY_SID, apiKeySecret: env.TWILIO_API_KEY_SECRET };
    } else if (env.TWILIO_AUTH_TOKEN) {
      secrets.twilio = { accountSid, authToken: env.TWILIO_AUTH_TOKEN };
    } else {
      throw new InvalidPolicyError({
        message:
          'TWILIO_ACCOUNT_SID is set without TWILIO_AUTH_TOKEN (or TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET).',
      });
    }
  } else if (env.TWILIO_AUTH_TOKEN || env.TWILIO_API_KEY_SID || env.TWILIO_API_KEY_SECRET) {
    throw new InvalidPolicyError({ message: 'Twilio credentials need TWILIO_ACCOUNT_SID too.' });
  }
  return secrets;
}

function parseUpstreams(entries: readonly string[]): Record<string, string> {
  const upstreams: Record<string, string> = {};
  for (const entry of entries) {
    const separator = entry.indexOf('=');
    const vendor = entry.slice(0, separator).trim();
    const url = entry.slice(separator + 1).trim();
    if (separator < 1 || !/^https?:\/\/[^/]/.test(url)) {
      throw new InvalidPolicyError({
        message: `Invalid --upstream ${JSON.stringify(entry)}: expected vendor=http(s)://host[:port], e.g. stripe=http://127.0.0.1:12111.`,
      });
    }
    upstreams[vendor] = url;
  }
  return upstreams;
}

/** Merges `--price vendor.option[.key]=value` flags over the config file's prices, then validates them. */
function resolvePrices(fromFile: BuiltinVendorOptions | undefined, entries: readonly string[]): BuiltinVendorOptions {
  const merged: Record<string, unknown> = structuredClone(fromFile ?? {}) as Record<string, unknown>;
  for (const entry of entries) {
    const separator = entry.indexOf('=');
    const path = entry.slice(0, Math.max(separator, 0)).split('.');
    if (separator < 1 || path.length < 2 || path.some((part) => part === '' || FORBIDDEN_KEYS.has(part))) {
      throw new InvalidPolicyError({
        message: `Invalid --price ${JSON.stringify(entry)}: expected vendor.option=value, e.g. twilio.smsSegmentUsd=0.0083.`,
      });
    }
    let target = merged;
    for (const part of path.slice(0, -1)) {
      const next = target[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) target[part] = {};
      target = target[part] as Record<string, unknown>;
    }
    target[path.at(-1) as string] = entry.slice(separator + 1).trim();
  }
  const parsed = pricesSchema.safeParse(merged);
  if (!parsed.success) {
    throw new InvalidPolicyError({ message: `Invalid prices: ${describeFields(toFieldErrors(parsed.error))}` });
  }
  return parsed.data;
}
