// A replay re-priced with the built-in Stripe model (invoice pay), where the retry's estimate (a
// lookup: the invoice is paid by then) differs from what the original was counted at.
import { expect, it } from 'vitest';
import { useRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault } from './create-vault.js';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';
let paid = false;
let posts = 0;
const invoice = () => ({
  id: 'in_1',
  object: 'invoice',
  currency: 'usd',
  status: paid ? 'paid' : 'open',
  amount_due: 10_000,
  amount_paid: paid ? 10_000 : 0,
  amount_remaining: paid ? 0 : 10_000,
});
const { upstream } = useRecordingUpstream((request) => {
  if (request.method !== 'POST') return { body: invoice() };
  posts += 1;
  paid = true;
  // The first answer is lost (the call times out); the retry gets Stripe's replay of it.
  return posts === 1
    ? { delayMs: 2500, body: invoice() }
    : { headers: { 'idempotent-replayed': 'true' }, body: invoice() };
});

it('should count a replayed invoice payment whose original timed out once, and the audit trail should add up', async () => {
  const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: upstream.url }, upstreamTimeout: 1 });
  try {
    const key = await vault.issueKey({ vendor: 'stripe', capUsd: 1000 });
    const pay = () =>
      vault.handle({
        vaultKey: key.vaultKey,
        method: 'POST',
        path: '/v1/invoices/in_1/pay',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'pay-in_1' },
      });
    expect((await pay()).status).toBe(504);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentMicros: 100_000_000 });
    expect((await pay()).status).toBe(200);
    const status = await vault.getKeyStatus(key.id);
    expect(status.spentMicros).toBe(100_000_000);
    const { records } = await vault.queryAudit({ keyId: key.id });
    const summary = records.map((record) => [record.outcome, record.actualMicros, record.note]);
    // $100 moved once; the replay's record says it counted nothing more.
    expect(
      records.reduce((sum, record) => sum + record.actualMicros, 0),
      JSON.stringify(summary),
    ).toBe(100_000_000);
  } finally {
    await vault.close();
  }
}, 20_000);
