// Retrieving (or creating, or listing through an authorization) an Issuing card with its `number`
// or `cvc` expanded answers with raw card data: a credential that spends with no vault in the way.
// Never forwarded, whatever the key's allow-list or fallback estimate.
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { startRecordingUpstream } from '../../test-utils/start-recording-upstream.js';
import { createVault } from '../../vault/create-vault.js';
import { loadStripeFixtures } from './__fixtures__/stripe-openapi-fixtures.js';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';
const fixtures = loadStripeFixtures();

describe('Stripe Issuing card number and CVC', () => {
  it("should never forward a call that expands an Issuing card's number or CVC, even on a key with a fallback", async () => {
    // Stripe's own example card, with the two fields an expand would add.
    const card = { ...(fixtures['issuing.card'] as { last4: string }), number: '4000009990000004', cvc: '123' };
    const upstream = await startRecordingUpstream(() => ({ body: card }));
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: upstream.url } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 5, fallbackEstimateUsd: 1 });
      const stripe = new Stripe(key.vaultKey, {
        httpClient: Stripe.createFetchHttpClient(vault.createFetch({ vaultKey: key.vaultKey })),
        maxNetworkRetries: 0,
      });
      const attempts = [
        stripe.issuing.cards.retrieve('ic_1', { expand: ['number', 'cvc'] }),
        stripe.issuing.cards.create({ currency: 'usd', type: 'virtual', cardholder: 'ich_1', expand: ['number'] }),
        stripe.issuing.authorizations.list({ expand: ['data.card.cvc'] }),
      ];
      for (const result of await Promise.all(attempts.map((attempt) => attempt.catch((error: unknown) => error)))) {
        expect(result).toMatchObject({ code: 'KEYBRAKE_UNKNOWN_COST' });
        expect((result as Error).message).toContain("an Issuing card's number and CVC");
      }
      // A card read without them is a free read, as before.
      expect((await stripe.issuing.cards.retrieve('ic_1')).last4).toBe(card.last4);
      expect(upstream.received).toHaveLength(1);
    } finally {
      await vault.close();
      await upstream.close();
    }
  });
});
