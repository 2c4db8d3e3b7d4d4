import { Resend } from 'resend';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault, type Vault } from '../vault/create-vault.js';
import { type DenialServer, startDenialServer } from './__fixtures__/denial-server.js';
import { denials } from './__fixtures__/denials.js';
import { resendVendor } from './resend-vendor.js';

const vendor = resendVendor();

describe('resendVendor', () => {
  describe('secrets and authorisation', () => {
    it('should accept a Resend API key and reject anything else without echoing it', () => {
      expect(vendor.parseSecret('re_123abc')).toBe('re_123abc');
      expect(() => vendor.parseSecret('sk_TOPSECRET')).toThrow(InvalidPolicyError);
      expect(() => vendor.parseSecret('sk_TOPSECRET')).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining('TOPSECRET') }),
      );
    });

    it('should set a bearer authorization and keep the path', () => {
      const headers: Record<string, string> = {};
      expect(vendor.authorize({ path: '/emails', headers }, 're_real')).toEqual({ path: '/emails' });
      expect(headers.authorization).toBe('Bearer re_real');
    });
  });

  describe('denials seen through resend-node', () => {
    let server: DenialServer;
    let resend: Resend;

    beforeAll(async () => {
      server = await startDenialServer();
      resend = new Resend('re_vaultkey', { baseUrl: server.origin });
    });
    afterAll(() => server.close());

    async function deny(error: KeybrakeError) {
      server.answerWith(vendor.errorResponse(error));
      return resend.emails.send({
        from: 'bot@acme.test',
        to: ['a@x.test', 'b@x.test'],
        subject: 'Hi',
        html: '<p>Hi</p>',
      });
    }

    it.each([
      ['cap', denials.cap, 429, 'monthly_quota_exceeded'],
      ['dailyCap', denials.dailyCap, 429, 'daily_quota_exceeded'],
      ['endpoint', denials.endpoint, 403, 'restricted_api_key'],
      ['unknownCost', denials.unknownCost, 403, 'invalid_access'],
      ['revoked', denials.revoked, 401, 'invalid_api_key'],
      ['invalidRequest', denials.invalidRequest, 413, 'validation_error'],
      ['storage', denials.storage, 503, 'application_error'],
    ] as const)(
      'should return the %s denial as { data: null, error } from one request',
      async (_name, error, status, name) => {
        const result = await deny(error);
        expect(result.data).toBeNull();
        expect(result.error).toEqual({
          statusCode: status,
          name,
          message: `${error.code}: ${error.message}`,
          keybrake: JSON.parse(JSON.stringify(error.toJSON())),
        });
        expect(server.requests).toHaveLength(1);
        expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/emails' });
      },
    );

    it('should answer a batch with the same error', async () => {
      server.answerWith(vendor.errorResponse(denials.cap));
      const result = await resend.batch.send([
        { from: 'bot@acme.test', to: 'a@x.test', subject: 'Hi', html: '<p>Hi</p>' },
      ]);
      expect(result.error?.message).toMatch(/^KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call/);
      expect(server.requests).toHaveLength(1);
    });
  });

  describe('calls the cost model cannot price, on a key with a fallback estimate', () => {
    const ID = '49a3999c-0ce1-4ea6-ab68-afcd6dc2e794';
    let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
    let vault: Vault;

    beforeAll(async () => {
      upstream = await startRecordingUpstream(() => ({ body: { id: ID } }));
      vault = createVault({
        secrets: { resend: 're_123456789_realResendSecret' },
        upstreams: { resend: upstream.url },
      });
    });
    afterAll(async () => {
      await vault.close();
      await upstream.close();
    });
    beforeEach(() => {
      upstream.received.length = 0;
    });

    /** Sends one call on a fresh $5 key whose $0.01 fallback is meant for unpriced config writes. */
    async function send(path: string, body: string, contentType = 'application/json') {
      const key = await vault.issueKey({ vendor: 'resend', capUsd: 5, fallbackEstimateUsd: '0.01' });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })(`https://api.resend.com${path}`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
      const error = (await response.json()) as { message: string };
      return { status: response.status, message: error.message, spentUsd: (await vault.getKeyStatus(key.id)).spentUsd };
    }

    it.each([
      // As resend-node 6.38 sends broadcasts.send(id) and broadcasts.send(id, { scheduledAt }).
      ['broadcasts.send', `/broadcasts/${ID}/send`, '{}'],
      ['broadcasts.send scheduled', `/broadcasts/${ID}/send`, '{"scheduled_at":"in 1 hour"}'],
      // As it sends broadcasts.create({ ..., send: true }).
      ['broadcasts.create with send', '/broadcasts', '{"segment_id":"seg_50k","from":"n@acme.test","send":true}'],
    ])('should not send %s to a whole segment for the fallback', async (_name, path, body) => {
      const result = await send(path, body);
      expect(result).toEqual({
        status: 403,
        message: expect.stringMatching(/^KEYBRAKE_UNKNOWN_COST: .*a broadcast to a segment cannot be priced/),
        spentUsd: 0,
      });
      expect(upstream.received).toEqual([]);
    });

    const addresses = (tag: string, count: number) => Array.from({ length: count }, (_, n) => `${tag}${n}@x.test`);
    /** 100 emails of 50 to + 50 cc + 50 bcc: 15,000 recipients ($13.50), over the $5 cap. */
    const bigBatch = Array.from({ length: 100 }, (_, n) => ({
      from: 'bot@acme.test',
      subject: `Hi ${n}`,
      html: '<p>Hi</p>',
      to: addresses(`t${n}_`, 50),
      cc: addresses(`c${n}_`, 50),
      bcc: addresses(`b${n}_`, 50),
    }));

    it.each([
      // A `bcc` sent twice: JSON.parse keeps the last (150 recipients an email), a first-wins reader the first (101).
      ['that repeats a key', JSON.stringify(bigBatch).replace(/"html":/g, '"bcc":"last@x.test","html":')],
      ['sent as text/plain', JSON.stringify(bigBatch), 'text/plain'],
      ['and one more email (101)', JSON.stringify([...bigBatch, bigBatch[0]])],
    ])('should not pass the cap for the fallback with a 15,000-recipient batch %s', async (_name, body, type?) => {
      const result = await send('/emails/batch', body, type);
      expect(result).toEqual({
        status: 403,
        message: expect.stringMatching(/^KEYBRAKE_UNKNOWN_COST: .*no fallback estimate can stand for it/),
        spentUsd: 0,
      });
      expect(upstream.received).toEqual([]);
    });

    it('should count a batch email without to at its cc and bcc, and deny the batch over the cap', async () => {
      // Resend refuses the last email alone in a permissive batch, and sends the 99 others: 14,950 recipients.
      const body = JSON.stringify([...bigBatch.slice(1), { ...bigBatch[0], to: [] }]);
      const result = await send('/emails/batch', body);
      expect(result).toEqual({
        status: 429,
        message: expect.stringMatching(/^KEYBRAKE_CAP_EXCEEDED: /),
        spentUsd: 0,
      });
      expect(upstream.received).toEqual([]);
    });
  });
});
