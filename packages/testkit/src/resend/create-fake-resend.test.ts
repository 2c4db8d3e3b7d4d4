import { Resend } from 'resend';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeResend, type FakeResend } from './create-fake-resend.js';

const secret = 're_test_123456';
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function call(
  fake: FakeResend,
  method: string,
  path: string,
  json?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${secret}` },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${fake.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function email(index = 0) {
  return { from: 'Acme <noreply@acme.test>', to: [`user${index}@example.com`], subject: `Hi ${index}`, text: 'Hello' };
}

describe('createFakeResend', () => {
  let fake: FakeResend;

  beforeAll(async () => {
    fake = await createFakeResend({ secret });
  });

  afterAll(async () => {
    await fake.close();
  });

  beforeEach(() => {
    fake.reset();
  });

  describe('when an email is sent', () => {
    it('should answer 200 with an id and count its recipients', async () => {
      const { status, body } = await call(fake, 'POST', '/emails', {
        ...email(),
        to: 'a@example.com',
        cc: ['b@example.com', 'c@example.com'],
        bcc: 'd@example.com',
      });

      expect(status).toBe(200);
      expect(Object.keys(body)).toEqual(['id']);
      expect(body.id).toMatch(uuid);
      expect(fake.emails()).toEqual([
        expect.objectContaining({ id: body.id, to: ['a@example.com'], recipients: 4, batch: false }),
      ]);
    });

    it('should return the email object on GET', async () => {
      const sent = await call(fake, 'POST', '/emails', { ...email(), html: '<p>Hello</p>', reply_to: 'r@acme.test' });
      const { status, body } = await call(fake, 'GET', `/emails/${String(sent.body.id)}`);

      expect(status).toBe(200);
      expect(body).toMatchObject({
        object: 'email',
        id: sent.body.id,
        to: ['user0@example.com'],
        from: 'Acme <noreply@acme.test>',
        subject: 'Hi 0',
        html: '<p>Hello</p>',
        text: 'Hello',
        cc: null,
        bcc: null,
        reply_to: ['r@acme.test'],
        last_event: 'delivered',
      });
      expect(body.created_at).toMatch(/\+00:00$/);
    });

    it('should answer 404 not_found for an unknown id', async () => {
      const { status, body } = await call(fake, 'GET', '/emails/00000000-0000-4000-8000-000000000000');

      expect(status).toBe(404);
      expect(body).toEqual({ statusCode: 404, name: 'not_found', message: 'Email not found' });
    });

    it('should accept a template email without from or subject, as resend-node 6.38 types it', async () => {
      const resend = new Resend(secret, { baseUrl: fake.url });
      const sent = await resend.emails.send({
        to: ['a@example.com'],
        template: { id: 'tmpl_welcome', variables: { name: 'Ada' } },
      });

      expect(sent.error).toBeNull();
      expect(fake.emails()).toEqual([
        expect.objectContaining({ id: sent.data?.id, from: '', subject: '', template: 'tmpl_welcome', recipients: 1 }),
      ]);
      const untitled = await call(fake, 'POST', '/emails', { to: 'a@example.com', template: { name: 'x' } });
      expect(untitled.status).toBe(422);
    });

    it('should answer 422 missing_required_field without to', async () => {
      const { status, body } = await call(fake, 'POST', '/emails', { from: 'a@acme.test', subject: 'Hi' });

      expect(status).toBe(422);
      expect(body).toEqual({ statusCode: 422, name: 'missing_required_field', message: 'Missing `to` field.' });
      expect(fake.emails()).toEqual([]);
    });
  });

  describe('when a batch is sent', () => {
    it('should answer one id per email', async () => {
      const { status, body } = await call(fake, 'POST', '/emails/batch', [email(1), email(2), email(3)]);

      expect(status).toBe(200);
      expect(body.data).toEqual([
        { id: expect.stringMatching(uuid) },
        { id: expect.any(String) },
        { id: expect.any(String) },
      ]);
      expect(fake.emails().map((sent) => [sent.to[0], sent.batch])).toEqual([
        ['user1@example.com', true],
        ['user2@example.com', true],
        ['user3@example.com', true],
      ]);
    });

    it('should accept 100 emails and answer 422 validation_error for 101', async () => {
      const hundred = await call(
        fake,
        'POST',
        '/emails/batch',
        Array.from({ length: 100 }, (_, index) => email(index)),
      );
      fake.reset();
      const tooMany = await call(
        fake,
        'POST',
        '/emails/batch',
        Array.from({ length: 101 }, (_, index) => email(index)),
      );

      expect(hundred.status).toBe(200);
      expect(tooMany.status).toBe(422);
      expect(tooMany.body).toMatchObject({ statusCode: 422, name: 'validation_error' });
      expect(tooMany.body.message).toEqual(expect.any(String));
      expect(fake.emails()).toEqual([]);
    });

    it('should send only the valid emails of a permissive batch and report the others by index', async () => {
      const resend = new Resend(secret, { baseUrl: fake.url });
      const result = await resend.batch.send(
        [
          { ...email(1), to: ['a@example.com', 'b@example.com'] },
          { ...email(2), from: 'not an address' },
          { ...email(3), subject: '' },
          email(4),
        ],
        { batchValidation: 'permissive' },
      );

      expect(result.error).toBeNull();
      expect(result.data).toEqual({
        data: [{ id: expect.stringMatching(uuid) }, { id: expect.stringMatching(uuid) }],
        errors: [
          { index: 1, message: expect.stringMatching(/^Invalid `from` field/) },
          { index: 2, message: 'Missing `subject` field.' },
        ],
      });
      expect(fake.emails().map((sent) => [sent.to[0], sent.recipients])).toEqual([
        ['a@example.com', 2],
        ['user4@example.com', 1],
      ]);
    });

    it('should accept none of the batch when one email is invalid', async () => {
      const { status } = await call(fake, 'POST', '/emails/batch', [email(1), { from: 'a@acme.test', to: 'b@x.test' }]);

      expect(status).toBe(422);
      expect(fake.emails()).toEqual([]);
    });
  });

  describe('when authentication fails', () => {
    it('should answer 401 missing_api_key without a key', async () => {
      const { status, body } = await call(fake, 'POST', '/emails', email(), {});

      expect(status).toBe(401);
      expect(body).toMatchObject({ statusCode: 401, name: 'missing_api_key' });
    });

    it('should answer 401 validation_error for a wrong key', async () => {
      const { status, body } = await call(fake, 'POST', '/emails', email(), { authorization: 'Bearer re_wrong' });

      expect(status).toBe(401);
      expect(body).toEqual({ statusCode: 401, name: 'validation_error', message: 'API key is invalid' });
    });
  });

  describe('when an Idempotency-Key is reused', () => {
    it('should replay the first response without sending twice', async () => {
      const headers = { authorization: `Bearer ${secret}`, 'idempotency-key': 'welcome-42' };
      const first = await call(fake, 'POST', '/emails', email(), headers);
      const second = await call(fake, 'POST', '/emails', email(), headers);

      expect(second).toEqual(first);
      expect(fake.emails()).toHaveLength(1);
    });

    it('should answer 409 invalid_idempotent_request for a different payload', async () => {
      const headers = { authorization: `Bearer ${secret}`, 'idempotency-key': 'welcome-43' };
      await call(fake, 'POST', '/emails', email(1), headers);
      const { status, body } = await call(fake, 'POST', '/emails', email(2), headers);

      expect(status).toBe(409);
      expect(body).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
      expect(fake.emails()).toHaveLength(1);
    });
  });

  describe('when a failure is injected', () => {
    it('should answer 429 rate_limit_exceeded once', async () => {
      fake.failNext(429);
      const limited = await call(fake, 'POST', '/emails', email());
      const next = await call(fake, 'POST', '/emails', email());

      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ statusCode: 429, name: 'rate_limit_exceeded' });
      expect(next.status).toBe(200);
      expect(fake.requests.map((request) => request.status)).toEqual([429, 200]);
    });
  });
});
