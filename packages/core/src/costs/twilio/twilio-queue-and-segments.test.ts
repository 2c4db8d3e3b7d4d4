// A queued call dequeued to new TwiML (`POST …/Queues/{sid}/Members/{CallSid|Front}.json` with
// `Url`) can dial out as a call update with `Url` can: denied even with a fallback estimate. And a
// message is settled at no fewer segments than Twilio's own answer reports (`num_segments`: its
// body may be rewritten longer, as by `ShortenUrls`).
import { describe, expect, it } from 'vitest';
import { useRecordingUpstream } from '../../test-utils/start-recording-upstream.js';
import { createVault } from '../../vault/create-vault.js';
import { costContext, costRequest, costResponse } from '../__fixtures__/cost-request.js';
import { createTwilioCostModel } from './twilio-cost-model.js';

const ACCOUNT = '/2010-04-01/Accounts/ACplaceholder';
const CALL_SID = `CA${'1'.repeat(32)}`;
const QUEUE = `Queues/QU${'2'.repeat(32)}`;
const context = costContext();

describe('Twilio queue members and answered segments', () => {
  it('should deny dequeuing a call to new TwiML even on a key with a fallback, in any spelling of the route', () => {
    const model = createTwilioCostModel();
    for (const path of [
      `${ACCOUNT}/${QUEUE}/Members/${CALL_SID}.json`,
      `${ACCOUNT}/${QUEUE}/Members/Front.json`,
      `${ACCOUNT}/${QUEUE}/members/Front`,
      `${ACCOUNT}/${QUEUE.toLowerCase()}/Members/Front.xml`,
    ]) {
      const estimate = model.estimate(
        costRequest({ path, form: { Url: 'https://agent.example/dial.xml', Method: 'POST' } }),
        context,
      );
      expect(estimate, path).toMatchObject({ kind: 'unknown', fallback: false });
    }
    // Reading a queue's members costs nothing.
    expect(model.estimate(costRequest({ method: 'GET', path: `${ACCOUNT}/${QUEUE}/Members.json` }), context)).toEqual({
      kind: 'known',
      micros: 0,
    });
  });

  it("should settle a message at no fewer segments than Twilio's answer reports, while its price is pending", () => {
    const model = createTwilioCostModel({ smsSegmentUsdByPrefix: { '+44': '0.0524' } });
    // 150 GSM-7 characters: 1 segment as written; Twilio's rewritten body is 4.
    const body = Array.from({ length: 15 }, () => 'http://a.b').join('');
    const request = costRequest({
      path: `${ACCOUNT}/Messages.json`,
      form: { To: '+447700900123', MessagingServiceSid: `MG${'3'.repeat(32)}`, Body: body, ShortenUrls: 'true' },
    });
    const estimate = model.estimate(request, context);
    expect(estimate).toMatchObject({ kind: 'known', micros: 52_400 });
    if (estimate instanceof Promise) throw new Error('expected a synchronous estimate');
    const answer = (segments: unknown) => ({
      sid: `SM${'4'.repeat(32)}`,
      status: 'accepted',
      num_segments: segments,
      price: null,
      price_unit: 'USD',
    });
    expect(model.settle(request, costResponse(201, answer('4')), estimate, context)).toMatchObject({
      kind: 'known',
      micros: 4 * 52_400,
      pendingRef: `SM${'4'.repeat(32)}`,
    });
    // Fewer, or unreadable: the estimate stays.
    for (const segments of ['1', '0', '-3', '2.5', 'many', null, undefined, 1e12, '123456']) {
      expect(model.settle(request, costResponse(201, answer(segments)), estimate, context)).toMatchObject({
        micros: 52_400,
      });
    }
  });

  describe('through the vault', () => {
    const { upstream, vaults } = useRecordingUpstream(() => ({ status: 200, body: { call_sid: CALL_SID } }));
    it('should not dequeue a call to dialing TwiML at a $0.05 fallback estimate', async () => {
      const vault = createVault({
        secrets: { twilio: { accountSid: `AC${'9'.repeat(32)}`, authToken: 'real_token' } },
        upstreams: { twilio: upstream.url },
      });
      vaults.push(vault);
      const key = await vault.issueKey({ vendor: 'twilio', capUsd: 5, fallbackEstimateUsd: 0.05, expiresIn: '1h' });
      const redirect = (path: string) =>
        vault.handle({
          vaultKey: key.vaultKey,
          method: 'POST',
          path: `${ACCOUNT}/${path}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'Url=https%3A%2F%2Fagent.example%2Fdial.xml',
        });
      expect((await redirect(`Calls/${CALL_SID}.json`)).status).toBe(403);
      expect((await redirect(`${QUEUE}/Members/Front.json`)).status).toBe(403);
      expect(upstream.received).toHaveLength(0);
    });
  });
});
