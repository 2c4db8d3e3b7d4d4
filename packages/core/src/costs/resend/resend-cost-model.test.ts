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

    it('should count each part of a comma-separated string', () => {
      expect(countResendRecipients(email('a@x.test, b@x.test'))).toBe(2);
    });

    it('should return 0 without a readable to', () => {
      expect(countResendRecipients({ cc: 'c@x.test' })).toBe(0);
      expect(countResendRecipients({ to: [1, 2] })).toBe(0);
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

    it('should return unknown for a batch over 100 emails', () => {
      const batch = Array.from({ length: 101 }, () => email('a@x.test'));
      expect(estimate({ path: '/emails/batch', json: batch })).toEqual({
        kind: 'unknown',
        reason: "a batch of 101 emails is over Resend's limit of 100",
      });
    });

    it('should accept a batch of exactly 100 emails', () => {
      const batch = Array.from({ length: 100 }, () => email('a@x.test'));
      expect(estimate({ path: '/emails/batch', json: batch })).toMatchObject({ micros: 90_000 });
    });

    it('should return unknown for an email without recipients or a body that is not JSON', () => {
      expect(estimate({ path: '/emails', json: { from: 'a@x.test', subject: 'x' } }).kind).toBe('unknown');
      expect(estimate({ path: '/emails', body: 'to=a@x.test' }).kind).toBe('unknown');
      expect(estimate({ path: '/emails/batch', json: email('a@x.test') }).kind).toBe('unknown');
    });
  });

  describe('other endpoints', () => {
    it('should price reads and managing domains or cancelling an email at 0', () => {
      expect(estimate({ method: 'GET', path: '/emails/49a3999c' })).toEqual({ kind: 'known', micros: 0 });
      expect(estimate({ path: '/domains', json: { name: 'acme.test' } })).toMatchObject({ micros: 0 });
      expect(estimate({ path: '/emails/49a3999c/cancel' })).toMatchObject({ micros: 0 });
    });

    it('should return unknown for sending a broadcast, also when it is sent or scheduled as it is created', () => {
      expect(estimate({ path: '/broadcasts/b_1/send' }).kind).toBe('unknown');
      const broadcast = { from: 'a@acme.test', subject: 'Everyone', html: '<p>hi</p>', segment_id: 'seg_1' };
      expect(estimate({ path: '/broadcasts', json: broadcast })).toMatchObject({ kind: 'known', micros: 0 });
      expect(estimate({ path: '/broadcasts', json: { ...broadcast, send: false } })).toMatchObject({ micros: 0 });
      expect(estimate({ path: '/broadcasts', json: { ...broadcast, send: true } }).kind).toBe('unknown');
      expect(estimate({ path: '/broadcasts', json: { ...broadcast, scheduled_at: 'in 1 hour' } }).kind).toBe('unknown');
      expect(estimate({ path: '/broadcasts', body: 'not json' }).kind).toBe('unknown');
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
