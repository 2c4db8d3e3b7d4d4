import { InvalidPolicyError } from '../errors/invalid-policy-error.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration: a number of seconds, or a string such as `"90s"`, `"30m"`, `"1h"`, `"7d"`.
 *
 * @returns Milliseconds, at least 1: a positive duration never rounds to 0, which undici and
 * timers read as "no limit".
 * @throws {InvalidPolicyError} on anything else, zero, negative, or too long to count in whole
 *   milliseconds exactly (past 2^53 ms).
 * @example
 * ```ts
 * parseDuration('1h'); // 3_600_000
 * parseDuration(90); // 90_000
 * ```
 */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0)
      throw new InvalidPolicyError({ message: `Invalid duration ${value}: seconds must be positive.` });
    return finite(Math.max(1, Math.round(value * 1000)), value);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  const amount = Number(match?.[1]);
  if (!match || !(amount > 0)) {
    throw new InvalidPolicyError({
      message: `Invalid duration ${JSON.stringify(value)}: use seconds or "30m", "1h", "7d".`,
    });
  }
  return finite(Math.max(1, Math.round(amount * (UNITS[match[2] ?? 's'] ?? 1000))), value);
}

/** Milliseconds past 2^53 (285,000 years) are no duration anything can wait or store exactly. */
function finite(ms: number, value: string | number): number {
  if (!Number.isSafeInteger(ms)) {
    throw new InvalidPolicyError({
      message: `Invalid duration ${JSON.stringify(String(value).slice(0, 40))}: too long.`,
    });
  }
  return ms;
}
