// Stripe reads a POST's parameters from its query string too: they must be priced, not slip past.
import { createFakeStripe } from '@keybrake/testkit';
import { describe, expect, it } from 'vitest';
import { createVault } from '../../vault/create-vault.js';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';

describe('Stripe parameters outside a form-encoded body', () => {
  it('should price a PaymentIntent confirmed through ?confirm=true, and stop it at the cap', async () => {
    const fake = await createFakeStripe({ secret: SECRET });
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: fake.url } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 30 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const pay = (amount: number) =>
        send('https://api.stripe.com/v1/payment_intents?confirm=true', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `amount=${amount}&currency=usd&payment_method=pm_card_visa`,
        });
      expect((await pay(2000)).status).toBe(200);
      expect(fake.moneyMoved().map((movement) => movement.amount)).toEqual([2000]);
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(20_000_000);
      expect((await pay(100_000)).status).toBe(429);
      expect(fake.moneyMoved()).toHaveLength(1);

      // Nor in a multipart body, which Stripe parses and the form parser cannot: refused, not priced at 0.
      const form = new FormData();
      for (const [name, value] of Object.entries({ amount: '2000', currency: 'usd', confirm: 'true' }))
        form.append(name, value);
      const multipart = await send('https://api.stripe.com/v1/payment_intents', { method: 'POST', body: form });
      expect(multipart.status).toBe(403);
      expect(multipart.headers.get('x-keybrake-code')).toBe('KEYBRAKE_UNKNOWN_COST');
      expect(fake.moneyMoved()).toHaveLength(1);
    } finally {
      await vault.close();
      await fake.close();
    }
  });
});
