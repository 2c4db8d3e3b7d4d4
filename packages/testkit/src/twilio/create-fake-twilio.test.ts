import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeTwilio, type FakeTwilio } from './create-fake-twilio.js';

const accountSid = `AC${'0'.repeat(31)}1`;
const authToken = 'auth-token-123';
const apiKeySid = `SK${'a'.repeat(32)}`;
const apiKeySecret = 'api-key-secret';
const base = `/2010-04-01/Accounts/${accountSid}`;

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function call(
  fake: FakeTwilio,
  method: string,
  path: string,
  form?: [string, string][],
  authorization = basic(accountSid, authToken),
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: form ? new URLSearchParams(form) : undefined,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function send(fake: FakeTwilio, form: [string, string][]) {
  return call(fake, 'POST', `${base}/Messages.json`, form);
}

describe('createFakeTwilio', () => {
  let fake: FakeTwilio;

  beforeAll(async () => {
    fake = await createFakeTwilio({ accountSid, secret: authToken, apiKeys: { [apiKeySid]: apiKeySecret } });
  });

  afterAll(async () => {
    await fake.close();
  });

  beforeEach(() => {
    fake.reset();
  });

  describe('when an SMS is sent', () => {
    it("should answer 201 with Twilio's message JSON", async () => {
      const { status, body } = await send(fake, [
        ['To', '+15005550006'],
        ['From', '+15005550001'],
        ['Body', 'Hello'],
      ]);

      expect(status).toBe(201);
      expect(body).toMatchObject({
        account_sid: accountSid,
        api_version: '2010-04-01',
        body: 'Hello',
        date_sent: null,
        direction: 'outbound-api',
        error_code: null,
        error_message: null,
        from: '+15005550001',
        messaging_service_sid: null,
        num_media: '0',
        num_segments: '1',
        price: null,
        price_unit: 'USD',
        status: 'queued',
        to: '+15005550006',
      });
      expect(body.sid).toMatch(/^SM[0-9a-f]{32}$/);
      expect(body.date_created).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
      expect(body.uri).toBe(`${base}/Messages/${String(body.sid)}.json`);
      expect(body.subresource_uris).toEqual({ media: `${base}/Messages/${String(body.sid)}/Media.json` });
    });

    it('should report it delivered with its price on fetch', async () => {
      const created = await send(fake, [
        ['To', '+15005550006'],
        ['From', '+15005550001'],
        ['Body', 'a'.repeat(160)],
      ]);
      const fetched = await call(fake, 'GET', String(created.body.uri));

      expect(fetched.status).toBe(200);
      expect(fetched.body).toMatchObject({ sid: created.body.sid, status: 'delivered', price: '-0.00830' });
      expect(fetched.body.date_sent).toEqual(expect.any(String));
      expect(fake.messages()[0]).toMatchObject({ status: 'delivered', segments: 1, price: '-0.00830' });
    });

    it("should list the account's messages newest first, delivered with their prices, on one page", async () => {
      const first = await send(fake, [
        ['To', '+15005550006'],
        ['From', '+15005550001'],
        ['Body', 'one'],
      ]);
      const second = await send(fake, [
        ['To', '+15005550006'],
        ['From', '+15005550001'],
        ['Body', 'b'.repeat(200)],
      ]);
      const listed = await call(fake, 'GET', `${base}/Messages.json`);

      expect(listed.status).toBe(200);
      expect(listed.body).toMatchObject({ page: 0, start: 0, end: 1, next_page_uri: null });
      expect(listed.body.messages).toEqual([
        expect.objectContaining({ sid: second.body.sid, status: 'delivered', price: '-0.01660' }),
        expect.objectContaining({ sid: first.body.sid, status: 'delivered', price: '-0.00830' }),
      ]);
      expect(fake.messages().map((message) => message.status)).toEqual(['delivered', 'delivered']);
    });

    it.each([
      ['161 GSM-7 characters', 'a'.repeat(161), 'GSM-7', 2, '-0.01660'],
      ['71 characters with one emoji', `${'a'.repeat(70)}🙂`, 'UCS-2', 2, '-0.01660'],
      ['a 400-character GSM-7 body', 'b'.repeat(400), 'GSM-7', 3, '-0.02490'],
    ])('should bill %s by segment', async (_label, text, encoding, segments, price) => {
      const created = await send(fake, [
        ['To', '+15005550006'],
        ['From', '+15005550001'],
        ['Body', text],
      ]);
      const fetched = await call(fake, 'GET', String(created.body.uri));

      expect(created.body.num_segments).toBe(String(segments));
      expect(fetched.body.price).toBe(price);
      expect(fake.messages()[0]).toMatchObject({ encoding, segments, price });
    });

    it('should bill an MMS per message', async () => {
      const created = await send(fake, [
        ['To', '+15005550006'],
        ['From', '+15005550001'],
        ['Body', 'Look'],
        ['MediaUrl', 'https://example.com/1.png'],
        ['MediaUrl', 'https://example.com/2.png'],
      ]);
      const fetched = await call(fake, 'GET', String(created.body.uri));

      expect(created.body).toMatchObject({ num_media: '2', num_segments: '1' });
      expect(fetched.body.price).toBe('-0.02000');
      expect(fake.messages()[0]?.mediaUrls).toEqual(['https://example.com/1.png', 'https://example.com/2.png']);
    });

    it('should accept a Messaging Service instead of From', async () => {
      const { status, body } = await send(fake, [
        ['To', '+15005550006'],
        ['MessagingServiceSid', `MG${'b'.repeat(32)}`],
        ['Body', 'Hi'],
      ]);

      expect(status).toBe(201);
      expect(body).toMatchObject({ from: null, messaging_service_sid: `MG${'b'.repeat(32)}`, status: 'accepted' });
    });
  });

  describe('when a request is invalid', () => {
    it('should answer 400 code 21604 without To', async () => {
      const { status, body } = await send(fake, [
        ['From', '+15005550001'],
        ['Body', 'Hi'],
      ]);

      expect(status).toBe(400);
      expect(body).toEqual({
        code: 21604,
        message: "A 'To' phone number is required.",
        more_info: 'https://www.twilio.com/docs/errors/21604',
        status: 400,
      });
      expect(fake.messages()).toEqual([]);
    });

    it('should answer 404 code 20404 for an unknown message or another account', async () => {
      const unknown = await call(fake, 'GET', `${base}/Messages/SM${'0'.repeat(32)}.json`);
      const otherAccount = await call(fake, 'POST', `/2010-04-01/Accounts/AC${'9'.repeat(32)}/Messages.json`, [
        ['To', '+1'],
      ]);

      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ code: 20404, status: 404 });
      expect(unknown.body.message).toMatch(/^The requested resource .* was not found$/);
      expect(otherAccount.status).toBe(404);
    });
  });

  describe('when authentication fails', () => {
    it('should answer 401 code 20003', async () => {
      const { status, body } = await call(
        fake,
        'POST',
        `${base}/Messages.json`,
        [['To', '+1']],
        basic(accountSid, 'wrong'),
      );

      expect(status).toBe(401);
      expect(body).toEqual({
        code: 20003,
        message: 'Authenticate',
        more_info: 'https://www.twilio.com/docs/errors/20003',
        status: 401,
      });
    });

    it('should accept an API key and secret', async () => {
      const { status } = await call(
        fake,
        'POST',
        `${base}/Messages.json`,
        [
          ['To', '+15005550006'],
          ['From', '+15005550001'],
          ['Body', 'Hi'],
        ],
        basic(apiKeySid, apiKeySecret),
      );

      expect(status).toBe(201);
    });
  });

  describe('when a call is placed', () => {
    it('should answer with price null, then bill started minutes on fetch', async () => {
      const created = await call(fake, 'POST', `${base}/Calls.json`, [
        ['To', '+15005550006'],
        ['From', '+15005550001'],
        ['Url', 'https://example.com/twiml'],
      ]);
      const fetched = await call(fake, 'GET', String(created.body.uri));

      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ status: 'queued', price: null, duration: null, direction: 'outbound-api' });
      expect(created.body.sid).toMatch(/^CA[0-9a-f]{32}$/);
      expect(fetched.body).toMatchObject({ status: 'completed', duration: '60', price: '-0.01400', price_unit: 'USD' });
      expect(fake.calls()[0]).toMatchObject({ durationSeconds: 60, price: '-0.01400' });
    });

    it('should answer 400 code 21205 without Url or Twiml', async () => {
      const { status, body } = await call(fake, 'POST', `${base}/Calls.json`, [
        ['To', '+15005550006'],
        ['From', '+15005550001'],
      ]);

      expect(status).toBe(400);
      expect(body.code).toBe(21205);
    });
  });

  describe('when pricing and duration are configured', () => {
    let priced: FakeTwilio;

    beforeAll(async () => {
      priced = await createFakeTwilio({
        pricePerSegment: '0.0079',
        pricePerMinute: '0.0130',
        callDurationSeconds: 150,
      });
    });

    afterAll(async () => {
      await priced.close();
    });

    it('should bill with the configured prices and cap calls at TimeLimit', async () => {
      const path = `/2010-04-01/Accounts/${priced.accountSid}`;
      const message = await call(priced, 'POST', `${path}/Messages.json`, [
        ['To', '+1'],
        ['From', '+2'],
        ['Body', 'c'.repeat(200)],
      ]);
      const long = await call(priced, 'POST', `${path}/Calls.json`, [
        ['To', '+1'],
        ['From', '+2'],
        ['Twiml', '<Response/>'],
      ]);
      const capped = await call(priced, 'POST', `${path}/Calls.json`, [
        ['To', '+1'],
        ['From', '+2'],
        ['Twiml', '<Response/>'],
        ['TimeLimit', '45'],
      ]);

      expect((await call(priced, 'GET', String(message.body.uri))).body.price).toBe('-0.01580');
      expect((await call(priced, 'GET', String(long.body.uri))).body).toMatchObject({
        duration: '150',
        price: '-0.03900',
      });
      expect((await call(priced, 'GET', String(capped.body.uri))).body).toMatchObject({
        duration: '45',
        price: '-0.01300',
      });
      expect(priced.accountSid).toMatch(/^AC[0-9a-f]{32}$/);
    });
  });
});
