/** ISO 4217 currencies whose minor unit is the major unit (Stripe's zero-decimal list). */
export const ZERO_DECIMAL_CURRENCIES: ReadonlySet<string> = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);

/** ISO 4217 currencies with three decimals. */
export const THREE_DECIMAL_CURRENCIES: ReadonlySet<string> = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/**
 * Number of decimals of a currency's minor unit: 0 for JPY, 3 for KWD, 2 otherwise.
 *
 * @param currency - ISO 4217 code, any case.
 * @example
 * ```ts
 * currencyDecimals('JPY'); // 0
 * ```
 */
export function currencyDecimals(currency: string): 0 | 2 | 3 {
  const code = currency.toLowerCase();
  if (ZERO_DECIMAL_CURRENCIES.has(code)) return 0;
  if (THREE_DECIMAL_CURRENCIES.has(code)) return 3;
  return 2;
}
