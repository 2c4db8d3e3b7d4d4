import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { UnknownCurrencyError } from '../errors/unknown-currency-error.js';
import { currencyDecimals } from './currencies.js';
import type { MicroUsd } from './micro-usd.js';

/** FX rates as USD per one unit of the currency, e.g. `{ eur: 1.08, jpy: '0.0067' }`. */
export type FxRates = Record<string, number | string>;

/** Converts amounts in any configured currency to micro-dollars, exactly and rounding up. */
export interface FxTable {
  /**
   * Converts an amount in a currency's minor units (cents, yen, fils) to micro-dollars,
   * rounding up so that money is never undercounted.
   *
   * @throws {UnknownCurrencyError} if the currency has no rate.
   * @throws {InvalidPolicyError} if the amount is not a whole number of minor units, or its
   *   micro-dollars would pass `Number.MAX_SAFE_INTEGER`.
   */
  toMicroUsd(amountMinor: number, currency: string): MicroUsd;
  /** Whether a rate is configured for the currency (USD always is). */
  has(currency: string): boolean;
}

const RATE_SCALE_DIGITS = 12;
const rateText = /^(\d+)(?:\.(\d+))?$/;

/**
 * Parses `jpy=0.0067,eur=1.08` (the CLI and `KEYBRAKE_FX` format) into rates.
 *
 * @throws {InvalidPolicyError} on a malformed entry.
 * @example
 * ```ts
 * parseFxRates('jpy=0.0067,eur=1.08'); // { jpy: '0.0067', eur: '1.08' }
 * ```
 */
export function parseFxRates(text: string): FxRates {
  const rates: FxRates = {};
  for (const entry of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const parts = entry.split('=').map((part) => part.trim());
    const [code, rate] = parts;
    if (parts.length !== 2 || !code || !rate || !/^[a-z]{3}$/i.test(code)) {
      throw new InvalidPolicyError({
        message: `Invalid FX entry "${entry}": expected code=usdPerUnit, e.g. jpy=0.0067.`,
      });
    }
    rates[code.toLowerCase()] = rate;
  }
  return rates;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Creates an FX table. Rates are exact decimals, kept to 12 places (a finer rate is rounded up
 * there, never down); conversion uses integer arithmetic and rounds up to the next micro-dollar.
 *
 * @param rates - USD per unit of each currency; USD is always 1.
 * @throws {InvalidPolicyError} on a negative or malformed rate, or a USD rate other than 1.
 * @example
 * ```ts
 * const fx = createFxTable({ jpy: '0.0067' });
 * fx.toMicroUsd(1000, 'jpy'); // ¥1000 → 6_700_000 ($6.70)
 * ```
 */
export function createFxTable(rates: FxRates = {}): FxTable {
  const scaled = new Map<string, bigint>([['usd', 10n ** BigInt(RATE_SCALE_DIGITS)]]);
  for (const [code, rate] of Object.entries(rates)) {
    // A number as written (its shortest form: 1.08, not 1.0800000000000000710…), unless that is exponential.
    const text = typeof rate === 'number' ? (/e/i.test(String(rate)) ? rate.toFixed(20) : String(rate)) : rate.trim();
    const match = rateText.exec(text);
    if (!match || (typeof rate === 'number' && !(rate > 0))) {
      throw new InvalidPolicyError({ message: `Invalid FX rate for ${code}: ${JSON.stringify(rate)}.` });
    }
    const digits = match[2] ?? '';
    const fraction = digits.padEnd(RATE_SCALE_DIGITS, '0').slice(0, RATE_SCALE_DIGITS);
    // Digits past the 12th round the rate up: a cost is never under-counted.
    const roundUp = /[1-9]/.test(digits.slice(RATE_SCALE_DIGITS)) ? 1n : 0n;
    const value = BigInt(match[1] ?? '0') * 10n ** BigInt(RATE_SCALE_DIGITS) + BigInt(fraction) + roundUp;
    if (value <= 0n) throw new InvalidPolicyError({ message: `Invalid FX rate for ${code}: must be positive.` });
    // USD is always 1: any other rate would scale every dollar amount, every cap check with it.
    if (code.toLowerCase() === 'usd' && value !== 10n ** BigInt(RATE_SCALE_DIGITS)) {
      throw new InvalidPolicyError({
        message: `Invalid FX rate for ${code}: USD is always 1, got ${JSON.stringify(rate)}.`,
      });
    }
    scaled.set(code.toLowerCase(), value);
  }
  // Cents to micro-dollars is an exact ×10,000 while it stays a safe integer: no BigInt on the common path.
  const usdIsOne = scaled.get('usd') === 10n ** BigInt(RATE_SCALE_DIGITS);
  return {
    has: (currency) => scaled.has(currency.toLowerCase()),
    toMicroUsd(amountMinor, currency) {
      const code = currency === 'usd' ? currency : currency.toLowerCase();
      const rate = scaled.get(code);
      if (rate === undefined) throw new UnknownCurrencyError({ currency: code });
      if (!Number.isSafeInteger(amountMinor)) {
        throw new InvalidPolicyError({ message: `Amount ${amountMinor} ${code} is not an integer of minor units.` });
      }
      if (code === 'usd' && usdIsOne && Number.isSafeInteger(amountMinor * 10_000)) return amountMinor * 10_000;
      // micros = amountMinor / 10^decimals * rate/10^12 * 10^6, rounded up.
      const numerator = BigInt(amountMinor) * rate * 1_000_000n;
      const denominator = 10n ** BigInt(currencyDecimals(code) + RATE_SCALE_DIGITS);
      const quotient = numerator / denominator;
      const micros = numerator % denominator === 0n || numerator < 0n ? quotient : quotient + 1n;
      if (micros > MAX_SAFE || micros < -MAX_SAFE) {
        // As a Number it would be rounded, possibly below the true cost.
        throw new InvalidPolicyError({
          message: `Amount ${amountMinor} ${code} is too large to count in micro-dollars.`,
        });
      }
      return Number(micros);
    },
  };
}
