import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

/**
 * Log paths the proxy's own logger redacts ({@link createProxyLogger}; add them to a logger you
 * pass in if you like). The proxy never logs headers, bodies or vault keys in the first place (it
 * logs key ids); this is the belt to those braces.
 *
 * @example
 * ```ts
 * pino({ redact: [...REDACTED_LOG_PATHS] });
 * ```
 */
export const REDACTED_LOG_PATHS: readonly string[] = [
  // Explicit paths only: a `*.` wildcard makes pino walk every key of every log line, a measurable
  // cost on a line written per vendor call.
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'vaultKey',
  'vault_key',
  'adminToken',
  'secrets',
  'err.headers.authorization',
];

/** Options of {@link createProxyLogger}. */
export interface ProxyLoggerOptions {
  /** Lowest level written. @default 'info' */
  level?: LevelWithSilent | undefined;
  /** Where JSON lines go. @default standard error (standard output stays free for the CLI) */
  destination?: DestinationStream | undefined;
}

/**
 * Creates the proxy's pino logger: JSON lines, `name: "keybrake"`, with
 * {@link REDACTED_LOG_PATHS} censored.
 *
 * @param options - Level and destination.
 * @returns A pino logger to pass to `createProxyServer({ logger })`.
 * @example
 * ```ts
 * const lines: string[] = [];
 * const logger = createProxyLogger({ level: 'debug', destination: { write: (line) => lines.push(line) } });
 * ```
 */
export function createProxyLogger(options: ProxyLoggerOptions = {}): Logger {
  return pino(
    {
      name: 'keybrake',
      level: options.level ?? 'info',
      redact: { paths: [...REDACTED_LOG_PATHS], censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/**
 * pino's error serializer, with an `Authorization` header the error carries (an HTTP client's
 * error, say) censored, in any letter case. The proxy sets it on a logger it is given, whose own
 * redaction it keeps, over that logger's own `err` serializer if it has one.
 *
 * @param base - The serializer whose output is censored. @default pino's standard `err` serializer
 * @example
 * ```ts
 * const logger = pino({ serializers: { err: serializeErrorWithoutCredentials } });
 * ```
 */
export function serializeErrorWithoutCredentials(
  error: Error,
  base: (error: Error) => unknown = pino.stdSerializers.err,
): unknown {
  const serialized = base(error);
  if (typeof serialized !== 'object' || serialized === null) return serialized;
  const headers = (serialized as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return serialized;
  const censored: Record<string, unknown> = { ...(headers as Record<string, unknown>) };
  let found = false;
  for (const name of Object.keys(censored)) {
    if (name.toLowerCase() === 'authorization') {
      censored[name] = '[redacted]';
      found = true;
    }
  }
  return found ? { ...serialized, headers: censored } : serialized;
}
