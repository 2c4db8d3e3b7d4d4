import { readFileSync } from 'node:fs';

/**
 * Stripe's own example objects (`openapi/fixtures3.json`), from the shared fixtures folder beside
 * the repository: `<repoRoot>/../shared/fixtures/stripe/fixtures3.json`.
 */
export const STRIPE_FIXTURES_URL = new URL(
  '../../../../../../../shared/fixtures/stripe/fixtures3.json',
  import.meta.url,
);

/**
 * Loads every example object of `fixtures3.json`, by resource name.
 *
 * @example
 * ```ts
 * loadStripeFixtures().payment_intent.amount; // 1099
 * ```
 */
export function loadStripeFixtures(): Record<string, Record<string, unknown>> {
  const parsed = JSON.parse(readFileSync(STRIPE_FIXTURES_URL, 'utf8')) as {
    resources: Record<string, Record<string, unknown>>;
  };
  return parsed.resources;
}

/**
 * Whether an object has an amount-like top-level field (`amount`, `amount_total`, `unit_amount`, …).
 *
 * @example
 * ```ts
 * hasAmountField({ amount: 100 }); // true
 * ```
 */
export function hasAmountField(object: Record<string, unknown>): boolean {
  return Object.keys(object).some((key) => key.includes('amount'));
}
