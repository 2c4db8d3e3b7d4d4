import { readFileSync } from 'node:fs';

const fixtures = JSON.parse(
  readFileSync(new URL('../packages/testkit/src/__fixtures__/stripe-objects.json', import.meta.url), 'utf8'),
) as { resources: { payment_intent: Record<string, unknown> } };

/**
 * What the benchmark's "Stripe" answers to every call: a succeeded $1.00 PaymentIntent built on
 * Stripe's own example object (as the testkit ships it), so the vault parses a response of the
 * real size and shape.
 */
export const PAYMENT_INTENT_BODY = JSON.stringify({
  ...fixtures.resources.payment_intent,
  id: 'pi_bench',
  amount: 100,
  amount_received: 100,
  currency: 'usd',
  status: 'succeeded',
});
