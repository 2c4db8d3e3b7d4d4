// Inboxes (resend-node 6.38: `inboxes.threads.emails.forward` / `.reply`, `inboxes.drafts.send`)
// and events (`POST /events/send`, which starts automations) send email too: priced per recipient
// where the call names them, refused even with a fallback estimate where it does not.
import { describe, expect, it } from 'vitest';
import { useRecordingUpstream } from '../../test-utils/start-recording-upstream.js';
import { createVault } from '../../vault/create-vault.js';
import { costContext, costRequest, costResponse } from '../__fixtures__/cost-request.js';
import { createResendCostModel } from './resend-cost-model.js';

const context = costContext();
const INBOX = '/inboxes/b3e2b2b6-3f0e-4c8e-9ad3-2f43a1e2c7f1';
const emails = (n: number, domain: string) => Array.from({ length: n }, (_, i) => `u${i}@${domain}`);

describe('Resend cost model: inboxes and events', () => {
  const model = createResendCostModel();

  it('should price an inbox forward per recipient, as POST /emails', async () => {
    const forward = costRequest({
      path: `${INBOX}/threads/t1/emails/e1/forward`,
      json: { to: emails(50, 'a.test'), cc: emails(50, 'b.test'), bcc: emails(50, 'c.test'), text: 'fyi' },
    });
    // 150 recipients × $0.0009 = $0.135.
    expect(await model.estimate(forward, context)).toMatchObject({ kind: 'known', micros: 150 * 900 });
    const noTo = costRequest({ path: `${INBOX}/threads/t1/emails/e1/forward`, json: { text: 'fyi' } });
    expect(await model.estimate(noTo, context)).toMatchObject({ kind: 'unknown', fallback: false });
  });

  it("should price a reply as its email's sender plus every address it adds", async () => {
    const reply = costRequest({
      path: `${INBOX.toUpperCase()}/threads/t1/emails/e1/reply`.replace('/INBOXES', '/Inboxes'),
      json: { cc: ['a@x.test', 'b@x.test'], bcc: 'c@x.test', text: 'ok', reply_all: false },
    });
    expect(await model.estimate(reply, context)).toMatchObject({ kind: 'known', micros: 4 * 900 });
    const plain = costRequest({ path: `${INBOX}/threads/t1/emails/e1/reply`, json: { text: 'ok' } });
    expect(await model.estimate(plain, context)).toMatchObject({ kind: 'known', micros: 900 });
  });

  it('should refuse, even with a fallback estimate, sends whose recipients are not in the call', async () => {
    for (const request of [
      // The draft's recipients were set by an earlier call; reply_all goes to the whole thread.
      costRequest({ path: `${INBOX}/drafts/d1/send` }),
      costRequest({ path: `${INBOX}/threads/t1/emails/e1/reply`, json: { reply_all: true, text: 'ok' } }),
      costRequest({ path: `${INBOX}/threads/t1/emails/e1/reply`, body: '{"text":"ok","Reply_All":true}' }),
      costRequest({ path: `${INBOX}/threads/t1/emails/e1/reply`, json: { text: 'ok', cc: [null] } }),
      // An event starts automations, which email the contacts they target.
      costRequest({ path: '/events/send', json: { event: 'user.signed_up', contact_id: 'c_1' } }),
    ]) {
      expect(await model.estimate(request, context)).toMatchObject({ kind: 'unknown', fallback: false });
    }
  });

  it('should keep the estimate of a forward Resend answered 5xx (it may have sent it)', async () => {
    const forward = costRequest({
      path: `${INBOX}/threads/t1/emails/e1/forward`,
      json: { to: ['a@x.test', 'b@x.test'] },
    });
    const estimate = await model.estimate(forward, context);
    expect(model.settle(forward, costResponse(503), estimate, context)).toMatchObject({ kind: 'known', micros: 1800 });
  });

  describe('through the vault', () => {
    const { upstream, vaults } = useRecordingUpstream(() => ({ status: 200, body: { id: 'e2' } }));
    it('should count a 150-recipient inbox forward at its price, not at a $0.001 fallback estimate', async () => {
      const vault = createVault({ secrets: { resend: 're_real_secret' }, upstreams: { resend: upstream.url } });
      vaults.push(vault);
      const key = await vault.issueKey({ vendor: 'resend', capUsd: 0.1, fallbackEstimateUsd: 0.001, expiresIn: '1h' });
      const forward = (n: number) =>
        vault.handle({
          vaultKey: key.vaultKey,
          method: 'POST',
          path: `${INBOX}/threads/t1/emails/e1/forward`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ to: emails(n, 'a.test'), cc: emails(n, 'b.test'), bcc: emails(n, 'c.test') }),
        });
      // 150 recipients ($0.135) is over the $0.10 cap: refused, nothing sent.
      expect((await forward(50)).status).toBe(429);
      expect(upstream.received).toHaveLength(0);
      // 30 recipients ($0.027) goes, counted at its price.
      expect((await forward(10)).status).toBe(200);
      expect(upstream.received).toHaveLength(1);
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(30 * 900);
    });
  });
});
