// Stripe reads a POST's parameters from its query string too: they must be priced, not slip past.
import { createFakeStripe } from '@keybrake/testkit';
import Stripe from 'stripe';
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

  it('should refuse to price a money call whose parameters Stripe might read otherwise', async () => {
    const fake = await createFakeStripe({ secret: SECRET });
    const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: fake.url } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 5 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const form = 'application/x-www-form-urlencoded';
      const preamble =
        'amount=100&currency=usd&x=\r\n--b\r\nContent-Disposition: form-data; name="amount"\r\n\r\n100000\r\n--b--\r\n';
      const attempts: Array<[string, string, string, RegExp]> = [
        // A multipart body behind a preamble: a multipart parser skips the preamble and reads $1,000.
        ['', 'multipart/form-data; boundary=b', preamble, /multipart\/form-data body cannot be priced/],
        ['', 'application/json', '{"amount":100000,"currency":"usd"}', /application\/json body cannot be priced/],
        ['', form, 'amount=100&currency=usd&confirm=true;amount=100000', /";" in its parameters/],
        ['?x=1;confirm=true', form, 'amount=100000&currency=usd', /";" in its parameters/],
        ['', form, 'amount=100000&amount=100&currency=usd&confirm=true', /"amount" is sent twice/],
        ['?amount=100000', form, 'amount=100&currency=usd&confirm=true', /"amount" is sent twice/],
        ['', form, '[amount]=100000&amount=100&currency=usd&confirm=true', /"\[amount\]" can be read otherwise/],
        ['', form, 'amount]=100000&currency=usd&confirm=true', /"amount\]" can be read otherwise/],
        // An older Rack drops spaces after a separator: `& amount` is `amount`, the last one wins.
        ['', form, 'amount=100&currency=usd&confirm=true& amount=100000', /" amount" can be read otherwise/],
        // …and reads `a[0]b`, `a[0][b]]` and `a[0]][b]` all as `a[0][b]`.
        ['', form, 'amount=100&currency=usd&confirm=true&metadata[0]x=1', /"metadata\[0\]x" can be read otherwise/],
        ['', form, 'amount=100&currency=usd&metadata[a]]=1', /"metadata\[a\]\]" can be read otherwise/],
        ['', form, 'amount=100&currency=usd&metadata[a]][b]=1', /"metadata\[a\]\]\[b\]" can be read otherwise/],
        ['', form, 'amount=100&currency=usd&metadata[a=1', /"metadata\[a" can be read otherwise/],
      ];
      for (const [search, type, body, reason] of attempts) {
        const answer = await send(`https://api.stripe.com/v1/payment_intents${search}`, {
          method: 'POST',
          headers: { 'content-type': type },
          body,
        });
        expect(answer.status).toBe(403);
        expect(answer.headers.get('x-keybrake-code')).toBe('KEYBRAKE_UNKNOWN_COST');
        expect(((await answer.json()) as { error: { message: string } }).error.message).toMatch(reason);
      }
      expect(fake.requests).toHaveLength(0);

      // What stripe-node sends still goes through: an encoded ";" is data, and indexed arrays repeat no key.
      const plain = await send('https://api.stripe.com/v1/payment_intents', {
        method: 'POST',
        headers: { 'content-type': `${form}; charset=utf-8` },
        body: 'amount=100&currency=usd&description=a%3Bb&payment_method_types[0]=card&payment_method_types[1]=link',
      });
      expect(plain.status).toBe(200);
      // In the query too: stripe-node sends a DELETE's parameters there, a ";" encoded as %3B.
      const stripe = new Stripe(key.vaultKey, { httpClient: Stripe.createFetchHttpClient(vault.createFetch()) });
      await stripe.subscriptions
        .cancel('sub_1', { cancellation_details: { comment: 'too pricey; switching' } })
        .catch(() => undefined);
      expect(fake.requests.at(-1)?.method).toBe('DELETE');
    } finally {
      await vault.close();
      await fake.close();
    }
  });
});
