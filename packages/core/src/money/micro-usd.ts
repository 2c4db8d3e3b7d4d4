import { InvalidPolicyError } from '../errors/invalid-policy-error.js';

/**
 * An amount of US dollars in integer micro-dollars (1 USD = 1,000,000). Every sum Keybrake
 * keeps is an integer in this unit, so no floating-point error can creep into a cap.
 */
export type MicroUsd = number;

/** Micro-dollars in one US dollar. */
export const MICROS_PER_USD = 1_000_000;

const decimalPattern = /^(\d+)(?:\.(\d+))?$/;

/**
 * Converts a USD amount given by a person (a number such as `150` or `0.0083`, or a decimal
 * string) to integer micro-dollars, exactly: `"0.0083"` is 8,300 micro-dollars.
 *
 * @param usd - A non-negative amount in dollars, at most 6 decimals.
 * @returns The amount in micro-dollars.
 * @throws {InvalidPolicyError} if the amount is negative, not finite, or finer than a micro-dollar.
 * @example
 * ```ts
 * toMicroUsd(150); // 150_000_000
 * toMicroUsd('0.0083'); // 8_300
 * ```
 */
export function toMicroUsd(usd: number | string): MicroUsd {
  // A policy read from JSON or a database may hold anything (`null`, `true`).
  if (typeof usd !== 'number' && typeof usd !== 'string') {
    throw new InvalidPolicyError({
      message: `Invalid USD amount ${usd === null ? 'null' : typeof usd}: expected a number or a decimal string (omit the field to leave it unset).`,
    });
  }
  const text = typeof usd === 'number' ? numberToPlainString(usd) : usd.trim();
  const match = decimalPattern.exec(text);
  if (!match)
    throw new InvalidPolicyError({
      message: `Invalid USD amount ${typeof usd === 'number' ? String(usd) : JSON.stringify(usd)}: expected a non-negative decimal number.`,
    });
  const whole = match[1] ?? '0';
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > 6) {
    throw new InvalidPolicyError({
      message: `Invalid USD amount ${JSON.stringify(usd)}: finer than one micro-dollar.`,
    });
  }
  const micros = Number(whole) * MICROS_PER_USD + Number(fraction.padEnd(6, '0'));
  if (!Number.isSafeInteger(micros))
    throw new InvalidPolicyError({ message: `USD amount ${JSON.stringify(usd)} is too large.` });
  return micros;
}

/**
 * {@link toMicroUsd} of an optional amount: `undefined` stays `undefined`.
 *
 * @example
 * ```ts
 * toOptionalMicroUsd(undefined); // undefined
 * ```
 */
export function toOptionalMicroUsd(usd: number | string | undefined): MicroUsd | undefined {
  return usd === undefined ? undefined : toMicroUsd(usd);
}

/**
 * Converts micro-dollars to a USD number for display and JSON (never summed again).
 *
 * @example
 * ```ts
 * fromMicroUsd(8_300); // 0.0083
 * ```
 */
export function fromMicroUsd(micros: MicroUsd): number {
  return micros / MICROS_PER_USD;
}

/**
 * Formats micro-dollars as a dollar string with at least two decimals: `$150.00`, `$0.0083`.
 *
 * @example
 * ```ts
 * formatUsd(150_000_000); // '$150.00'
 * ```
 */
export function formatUsd(micros: MicroUsd): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  const whole = Math.trunc(abs / MICROS_PER_USD);
  const fraction = String(abs % MICROS_PER_USD)
    .padStart(6, '0')
    .replace(/0+$/, '')
    .padEnd(2, '0');
  return `${sign}$${whole}.${fraction}`;
}

function numberToPlainString(value: number): string {
  if (!Number.isFinite(value) || value < 0) return String(value);
  const fixed = value.toFixed(6);
  // The nearest micro-dollar is the amount meant only if it is the number itself, give or take
  // binary noise (0.1 + 0.2); anything further off (4e-8, 1.00000004) is finer than a micro-dollar,
  // and rounding it would price a paid call lower than written, or at 0.
  if (Math.abs(Number(fixed) - value) > 4 * Number.EPSILON * Math.max(1, value)) {
    throw new InvalidPolicyError({ message: `Invalid USD amount ${value}: finer than one micro-dollar.` });
  }
  return fixed;
}
