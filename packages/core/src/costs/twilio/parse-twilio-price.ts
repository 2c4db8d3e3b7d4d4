import { currencyDecimals } from '../../money/currencies.js';
import type { FxTable } from '../../money/fx-table.js';
import type { MicroUsd } from '../../money/micro-usd.js';

const decimal = /^-?(\d{1,15})(?:\.(\d{1,15}))?$/;

/**
 * Converts a Twilio `price` (a decimal string of major units, negative for a charge:
 * `"-0.00830"`) in `price_unit` (`USD`, `EUR`, …) to micro-dollars, exactly and rounding up.
 * The sign is dropped: Twilio reports what you paid as a negative number.
 *
 * @param price - Twilio's `price` field; `null`/`undefined` while the price is not known yet.
 * @param priceUnit - Twilio's `price_unit`; `USD` when missing.
 * @param fx - The FX table converting `price_unit` to USD.
 * @returns The cost, or `undefined` if there is no price yet, it is malformed, or its currency has no rate.
 * @example
 * ```ts
 * parseTwilioPrice('-0.00830', 'USD', createFxTable()); // 8_300
 * ```
 */
export function parseTwilioPrice(price: unknown, priceUnit: unknown, fx: FxTable): MicroUsd | undefined {
  const text =
    typeof price === 'string'
      ? price.trim()
      : typeof price === 'number' && Number.isFinite(price)
        ? String(price)
        : undefined;
  const match = text === undefined ? null : decimal.exec(text);
  if (!match) return undefined;
  const currency = typeof priceUnit === 'string' && /^[a-z]{3}$/i.test(priceUnit) ? priceUnit.toLowerCase() : 'usd';
  if (!fx.has(currency)) return undefined;
  const fraction = match[2] ?? '';
  const digits = BigInt(`${match[1]}${fraction}`);
  const decimals = currencyDecimals(currency);
  if (fraction.length <= decimals) {
    const minor = digits * 10n ** BigInt(decimals - fraction.length);
    return minor > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : fx.toMicroUsd(Number(minor), currency);
  }
  // More decimals than the currency's minor unit: convert at the finer scale, then divide, rounding up.
  if (digits > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const scaled = BigInt(fx.toMicroUsd(Number(digits), currency));
  const divisor = 10n ** BigInt(fraction.length - decimals);
  return Number((scaled + divisor - 1n) / divisor);
}
