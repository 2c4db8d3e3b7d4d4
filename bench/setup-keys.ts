import type { Vault } from '@keybrake/core';

/** Live keys issued before measuring, to show the cost does not grow with the key count. */
export const LIVE_KEYS = 10_000;

/**
 * Issues the benchmark's keys: a 3-level chain (session → member budget → Stripe key) whose caps
 * never run out during the run, plus enough other live keys to reach {@link LIVE_KEYS}.
 */
export async function setupKeys(vault: Vault, liveKeys = LIVE_KEYS): Promise<string> {
  const session = await vault.issueKey({ capUsd: 1_000_000_000, expiresIn: '1d', label: 'bench/session' });
  const member = await vault.issueKey({ parentId: session.id, capUsd: 900_000_000, label: 'bench/session/billing' });
  const key = await vault.issueKey({
    parentId: member.id,
    vendor: 'stripe',
    capUsd: 800_000_000,
    allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'],
    label: 'bench/session/billing/stripe',
  });
  const batch: Promise<unknown>[] = [];
  for (let index = 3; index < liveKeys; index++) {
    batch.push(vault.issueKey({ vendor: 'stripe', capUsd: 10, label: `bench/other/${index}` }));
    if (batch.length === 200) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  return key.vaultKey;
}

/** The request every mode sends: a confirmed $1.00 PaymentIntent, form-encoded as stripe-node sends it. */
export const PAYMENT_BODY = 'amount=100&currency=usd&confirm=true&payment_method=pm_card_visa';

/**
 * Sends the benchmark's PaymentIntent through a fetch (a capped one, or a plain one with `origin`
 * and the real secret) and reads the answer whole, as an SDK does; resolves to the status.
 */
export async function sendPayment(
  send: typeof fetch,
  origin = 'https://api.stripe.com',
  authorization?: string,
): Promise<number> {
  const response = await send(`${origin}/v1/payment_intents`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization ? { authorization } : {}),
    },
    body: PAYMENT_BODY,
  });
  await response.arrayBuffer();
  return response.status;
}
