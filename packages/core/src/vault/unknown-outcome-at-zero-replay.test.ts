// A timed-out original counted at its estimate is raised, once, to what a retry's replayed answer
// says it cost (an Issuing approval). With a fallback estimate of $0 that estimate is 0: the ledger
// must still keep the original's idempotency key, or the retry is a new call, Stripe's replay of
// the approval settles at 0 (Idempotent-Replayed), and the $50 that moved is counted nowhere.
import { expect, it } from 'vitest';
import { createVault } from '../index.js';
import { useRecordingUpstream } from '../test-utils/start-recording-upstream.js';

const SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';
let posts = 0;
const authorization = {
  id: 'iauth_1',
  object: 'issuing.authorization',
  approved: true,
  amount: 5000,
  currency: 'usd',
  status: 'pending',
};
const { upstream, vaults } = useRecordingUpstream(() => {
  posts += 1;
  // The first answer is lost (the call times out); the retry gets Stripe's replay of it.
  return posts === 1
    ? { delayMs: 2500, body: authorization }
    : { headers: { 'idempotent-replayed': 'true' }, body: authorization };
});

it('should count an Issuing approval whose original timed out at a $0 fallback, once its replay says what it cost', async () => {
  const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: upstream.url }, upstreamTimeout: 1 });
  vaults.push(vault);
  const key = await vault.issueKey({ vendor: 'stripe', capUsd: 1000, fallbackEstimateUsd: 0 });
  const approve = () =>
    vault.handle({
      vaultKey: key.vaultKey,
      method: 'POST',
      path: '/v1/issuing/authorizations/iauth_1/approve',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'approve-iauth_1' },
    });
  const first = await approve();
  expect(first.status).toBe(504);
  expect(first.keybrake.error?.code).toBe('KEYBRAKE_UPSTREAM_ERROR');
  const second = await approve();
  expect(second.status).toBe(200);
  expect(posts).toBe(2);

  const status = await vault.getKeyStatus(key.id);
  const { records } = await vault.queryAudit({ keyId: key.id });
  const summary = JSON.stringify(records.map((r) => [r.outcome, r.actualMicros, r.note]));
  // $50 was approved once: the key should count it.
  expect(status.spentMicros, summary).toBe(50_000_000);
}, 20_000);
