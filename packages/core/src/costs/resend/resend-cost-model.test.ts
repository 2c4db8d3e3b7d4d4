import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { costContext, costRequest, costResponse, type TestRequestInit } from '../__fixtures__/cost-request.js';
import type { CostEstimate } from '../cost-model.js';
import { countResendRecipients, createResendCostModel, type ResendCostOptions } from './resend-cost-model.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./__fixtures__/${name}.json`, import.meta.url), 'utf8'));
const context = costContext();
const email = (to: string | string[], extra: Record<string, unknown> = {}) => ({
  from: 'Acme <bot@acme.test>',
  to,
  subject: 'Hello',
  html: '<p>Hi</p>',
  ...extra,
});

function estimate(init: TestRequestInit, options?: ResendCostOptions): CostEstimate {
  const result = createResendCostModel(options).estimate(costRequest(init), context);
  if (result instanceof Promise) throw new Error('the Resend model estimates synchronously');
  return result;
}

describe('countResendRecipients', () => {
  describe('address fields', () => {
    it('should count every to, cc and bcc address', () => {
      expect(
        countResendRecipients(email(['a@x.test', 'b@x.test'], { cc: 'c@x.test', bcc: ['d@x.test', 'e@x.test'] })),
      ).toBe(5);
    });

    it('should count each part of a comma- or semicolon-separated string', () => {
      expect(countResendRecipients(email('a@x.test, b@x.test'))).toBe(2);
      expect(countResendRecipients(email('a@x.test; b@x.test;c@x.test'))).toBe(3);
    });

    it('should return 0 without a readable to', () => {
      expect(countResendRecipients({ cc: 'c@x.test' })).toBe(0);
      expect(countResendRecipients({ to: [1, 2] })).toBe(0);
      // An unreadable cc or bcc is not counted as none: the whole email is unreadable.
      expect(countResendRecipients(email('a@x.test', { bcc: ['b@x.test', null] }))).toBe(0);
      expect(countResendRecipients(email('a@x.test', { cc: [['b@x.test', 'c@x.test']] }))).toBe(0);
      expect(countResendRecipients('not an email')).toBe(0);
    });
  });
});

describe('createResendCostModel', () => {
  describe('estimating sends', () => {
    it('should price one email per recipient at $0.0009 by default', () => {
      expect(estimate({ path: '/emails', json: email(['a@x.test', 'b@x.test'], { cc: 'c@x.test' }) })).toEqual({
        kind: 'known',
        micros: 2_700,
        note: '3 recipients',
      });
    });

    it('should price a send whose path is in another letter case per recipient too', () => {
      const fifty = email(Array.from({ length: 50 }, (_, index) => `u${index}@x.test`));
      for (const path of ['/Emails', '/EMAILS'])
        expect(estimate({ path, json: fifty })).toMatchObject({ micros: 45_000 });
      expect(estimate({ path: '/Emails/Batch', json: [fifty, email('a@x.test')] })).toMatchObject({ micros: 45_900 });
    });

    it('should use a configured price', () => {
      expect(estimate({ path: '/emails', json: email('a@x.test') }, { perEmailUsd: '0.001' })).toMatchObject({
        micros: 1_000,
      });
    });

    it('should sum the recipients of a batch', () => {
      expect(estimate({ path: '/emails/batch', json: [email('a@x.test'), email(['b@x.test', 'c@x.test'])] })).toEqual({
        kind: 'known',
        micros: 2_700,
        note: '3 recipients in 2 emails',
      });
    });

    it('should return unknown without a fallback for a batch over 100 emails', () => {
      const batch = Array.from({ length: 101 }, () => email('a@x.test'));
      expect(estimate({ path: '/emails/batch', json: batch })).toEqual({
        kind: 'unknown',
        reason: "a batch of 101 emails is over Resend's limit of 100",
        fallback: false,
      });
    });

    it('should accept a batch of exactly 100 emails', () => {
      const batch = Array.from({ length: 100 }, () => email('a@x.test'));
      expect(estimate({ path: '/emails/batch', json: batch })).toMatchObject({ micros: 90_000 });
    });

    it('should return unknown without a fallback for a body Resend might read otherwise than JSON.parse does', () => {
      const fifty = JSON.stringify(Array.from({ length: 50 }, (_, index) => `r${index}@x.test`));
      const head = '"from":"bot@acme.test","subject":"Hi","html":"<p>{\\"to\\": 1}</p>"';
      // Each is unknown without a fallback: a $0.01 fallback would let 15,000 recipients through.
      const reasons = (path: string, body: string, headers?: Record<string, string>) => {
        const result = estimate({ path, body, ...(headers && { headers }) });
        if (result.kind === 'known') return `priced at ${result.micros}`;
        return result.fallback === false ? result.reason : `${result.reason} (a fallback may stand for it)`;
      };
      // A key sent twice in one object (JSON.parse keeps the last; another parser the first), also escaped.
      expect(reasons('/emails', `{${head},"to":${fifty},"to":"a@x.test"}`)).toBe('the key "to" is sent twice');
      expect(reasons('/emails', `{${head},"to":${fifty},"\\u0074o":"a@x.test"}`)).toBe('the key "to" is sent twice');
      expect(reasons('/emails', `{${head},"to":"a@x.test","bcc":${fifty},"bcc":null}`)).toBe(
        'the key "bcc" is sent twice',
      );
      expect(reasons('/emails/batch', `[{${head},"to":"a@x.test"},{${head},"to":${fifty},"to":"a@x.test"}]`)).toBe(
        'the key "to" is sent twice',
      );
      expect(reasons('/broadcasts', '{"segment_id":"s","send":true,"send":false}')).toMatch(/sent twice/);
      // A priced key in another case or with spaces.
      expect(reasons('/emails', `{${head},"to":"a@x.test","Bcc":${fifty}}`)).toBe(
        'the key "Bcc" can be read otherwise',
      );
      // A body typed as something else than JSON.
      expect(
        reasons('/emails', `{${head},"to":"a@x.test"}`, { 'content-type': 'application/x-www-form-urlencoded' }),
      ).toBe('a application/x-www-form-urlencoded body cannot be priced; send it as application/json');
      // Nested keys are the sender's to name; a malformed body is refused in linear time.
      const nested = `{${head},"to":"a@x.test","headers":{"Cc":"archive"},"template":{"id":"t","variables":{"To":"Bob"}}}`;
      expect(reasons('/emails', nested)).toBe('priced at 900');
      const unclosed = `{${head},"to":"a@x.test","html":"${'\\"'.repeat(100_000)}`;
      // (Scanned before the parse, this 200 kB body took seconds: the test would time out.)
      expect(reasons('/emails', unclosed)).toBe('the body is not valid JSON');
      expect(reasons('/broadcasts', unclosed)).toBe('the body is not valid JSON');
      // The same key in two objects, a key inside a string, and JSON types are read as they are.
      const fine = `[{${head},"to":"a@x.test","tags":[{"name":"to","value":"x"}]},{${head},"to":"b@x.test"}]`;
      expect(reasons('/emails/batch', fine, { 'content-type': 'application/json; charset=utf-8' })).toBe(
        'priced at 1800',
      );
    });

    it('should return unknown without a fallback for an email without recipients, unreadable recipients or a body that is not JSON', () => {
      const unpriced = { kind: 'unknown', fallback: false };
      expect(estimate({ path: '/emails', json: { from: 'a@x.test', subject: 'x' } })).toMatchObject(unpriced);
      expect(estimate({ path: '/emails', json: email([]) })).toMatchObject(unpriced);
      expect(estimate({ path: '/emails', json: email('a@x.test', { bcc: [null] }) })).toMatchObject(unpriced);
      expect(estimate({ path: '/emails', body: 'to=a@x.test' })).toMatchObject(unpriced);
      expect(estimate({ path: '/emails/batch', json: email('a@x.test') })).toMatchObject(unpriced);
      expect(estimate({ path: '/emails/batch', json: [] })).toMatchObject(unpriced);
      expect(
        estimate({ path: '/emails/batch', json: [email('a@x.test'), email('b@x.test', { bcc: [null] })] }),
      ).toMatchObject({
        ...unpriced,
        reason: 'email 1 of the batch has unreadable recipients',
      });
      // An email without `to` sends nothing (Resend refuses it); its cc and bcc are counted anyway.
      expect(estimate({ path: '/emails/batch', json: [email('a@x.test'), email([])] })).toMatchObject({
        kind: 'known',
        micros: 900,
      });
      expect(
        estimate({ path: '/emails/batch', json: [email('a@x.test'), email([], { cc: 'c@x.test' })] }),
      ).toMatchObject({
        kind: 'known',
        micros: 1_800,
      });
      expect(
        estimate({
          path: '/emails/batch',
          body: JSON.stringify([email('a@x.test')]),
          headers: { 'content-type': 'text/plain' },
        }),
      ).toMatchObject(unpriced);
    });
  });

  describe('other endpoints', () => {
    it('should price reads and managing domains or cancelling an email at 0', () => {
      expect(estimate({ method: 'GET', path: '/emails/49a3999c' })).toEqual({ kind: 'known', micros: 0 });
      expect(estimate({ path: '/domains', json: { name: 'acme.test' } })).toMatchObject({ micros: 0 });
      expect(estimate({ path: '/emails/49a3999c/cancel' })).toMatchObject({ micros: 0 });
    });

    it('should return unknown without a fallback for sending a broadcast, also when it is sent or scheduled as it is created', () => {
      const unpriced = {
        kind: 'unknown',
        reason:
          'a broadcast to a segment cannot be priced; send the emails with POST /emails or /emails/batch, which Keybrake prices per recipient',
        fallback: false,
      };
      expect(estimate({ path: '/broadcasts/b_1/send', json: {} })).toEqual(unpriced);
      expect(estimate({ path: '/broadcasts/b_1/send', json: { scheduled_at: 'in 1 hour' } })).toEqual(unpriced);
      const broadcast = { from: 'a@acme.test', subject: 'Everyone', html: '<p>hi</p>', segment_id: 'seg_1' };
      expect(estimate({ path: '/broadcasts', json: broadcast })).toMatchObject({ kind: 'known', micros: 0 });
      expect(estimate({ path: '/broadcasts', json: { ...broadcast, send: false } })).toMatchObject({ micros: 0 });
      expect(estimate({ path: '/broadcasts', json: { ...broadcast, send: true } })).toEqual(unpriced);
      expect(estimate({ path: '/broadcasts', json: { ...broadcast, scheduled_at: 'in 1 hour' } })).toEqual(unpriced);
      expect(estimate({ path: '/broadcasts', body: 'not json' })).toEqual({
        kind: 'unknown',
        reason: 'the body is not valid JSON',
        fallback: false,
      });
      // In any letter case: should Resend route them alike, a fallback estimate would let them pass.
      expect(estimate({ path: '/Broadcasts/b_1/Send', json: {} })).toEqual(unpriced);
      expect(estimate({ path: '/BROADCASTS', json: { ...broadcast, send: true } })).toEqual(unpriced);
      // Not even when the key's owner lists it as free: it is a send, not a draft.
      expect(
        estimate({ path: '/broadcasts/b_1/send', json: {} }, { zeroCostEndpoints: ['POST /broadcasts/*/send'] }),
      ).toEqual(unpriced);
    });
  });

  describe('settling', () => {
    const model = createResendCostModel();

    it('should settle a sent email at the estimate', () => {
      const request = costRequest({ path: '/emails', json: email(['a@x.test', 'b@x.test']) });
      expect(
        model.settle(request, costResponse(200, fixture('email-sent')), { kind: 'known', micros: 1_800 }, context),
      ).toMatchObject({
        micros: 1_800,
      });
    });

    it('should settle a 4xx answer at 0 and keep the estimate on a 5xx answer', () => {
      const request = costRequest({ path: '/emails', json: email('a@x.test') });
      const known = { kind: 'known', micros: 900 } as const;
      expect(model.settle(request, costResponse(422, { name: 'validation_error' }), known, context)).toMatchObject({
        micros: 0,
      });
      expect(model.settle(request, costResponse(500, undefined), known, context)).toMatchObject({ micros: 900 });
    });

    it('should keep the estimate of a broadcast sent at creation on a 5xx answer, not settle it as a free draft', () => {
      const request = costRequest({ path: '/broadcasts', json: { segment_id: 'seg_1', send: true } });
      const unpriced = model.estimate(request, context);
      expect(model.settle(request, costResponse(502, undefined), unpriced as CostEstimate, context)).toEqual(unpriced);
      const draft = costRequest({ path: '/broadcasts', json: { segment_id: 'seg_1' } });
      expect(model.settle(draft, costResponse(502, undefined), { kind: 'known', micros: 0 }, context)).toMatchObject({
        micros: 0,
      });
    });

    it('should settle a batch at the estimate when every email was accepted', () => {
      const request = costRequest({
        path: '/emails/batch',
        json: [email('a@x.test'), email(['b@x.test', 'c@x.test'])],
      });
      expect(
        model.settle(request, costResponse(200, fixture('batch-sent')), { kind: 'known', micros: 2_700 }, context),
      ).toMatchObject({
        micros: 2_700,
      });
    });

    it('should settle a permissive batch at the recipients of the accepted emails only', () => {
      const request = costRequest({
        path: '/emails/batch',
        json: [email('a@x.test'), email(['b@x.test', 'c@x.test'])],
      });
      expect(
        model.settle(
          request,
          costResponse(200, fixture('batch-permissive')),
          { kind: 'known', micros: 2_700 },
          context,
        ),
      ).toEqual({
        kind: 'known',
        micros: 900,
        note: '1 recipient (1 refused)',
      });
    });
  });
});
