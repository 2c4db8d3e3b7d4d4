// The proxy end to end: the real server on a loopback port, the testkit's fake upstreams, and the
// official stripe, twilio and resend SDKs holding nothing but vault keys. The README's deployment
// snippets are the regions marked below.
import { readFileSync } from 'node:fs';
import { createTwilioHttpClient, createVault, type Vault } from '@keybrake/core';
import {
  createProxyLogger,
  createProxyServer,
  type ProxyServer,
  type WireAuditResult,
  type WireIssuedKey,
  type WireKeyStatus,
} from '@keybrake/server';
import { createFakeResend, createFakeStripe, createFakeTwilio } from '@keybrake/testkit';
import { Resend } from 'resend';
import Stripe from 'stripe';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const STRIPE_SECRET = 'sk_test_51ProxyKeepsTheRealSecret0123456789';
const TWILIO_SID = `AC${'2'.repeat(32)}`;
const TWILIO_TOKEN = 'real_twilio_auth_token_in_the_proxy_0123';
const RESEND_SECRET = 're_RealResendKeyKeptByTheProxy_0123';
const ADMIN_TOKEN = 'admin-token-e2e-0123456789abcdef';
const SMS_USD = '0.75';

describe('createProxyServer', () => {
  let fakeStripe: Awaited<ReturnType<typeof createFakeStripe>>;
  let fakeTwilio: Awaited<ReturnType<typeof createFakeTwilio>>;
  let fakeResend: Awaited<ReturnType<typeof createFakeResend>>;
  let vault: Vault;
  let proxy: ProxyServer;
  let url: string;
  /** The vault's clock runs ahead of the real one by this much, to expire keys. */
  let skewMs = 0;
  /** Every request the proxy received, as `METHOD /path`. */
  const wire: string[] = [];
  const logLines: string[] = [];
  const savedEnv = { url: process.env.KEYBRAKE_URL, token: process.env.KEYBRAKE_ADMIN_TOKEN };

  beforeAll(async () => {
    [fakeStripe, fakeTwilio, fakeResend] = await Promise.all([
      createFakeStripe({ secret: STRIPE_SECRET }),
      createFakeTwilio({ accountSid: TWILIO_SID, secret: TWILIO_TOKEN, pricePerSegment: SMS_USD }),
      createFakeResend({ secret: RESEND_SECRET }),
    ]);
    vault = createVault({
      secrets: {
        stripe: STRIPE_SECRET,
        twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN },
        resend: RESEND_SECRET,
      },
      upstreams: { stripe: fakeStripe.url, twilio: fakeTwilio.url, resend: fakeResend.url },
      prices: { twilio: { smsSegmentUsd: SMS_USD } },
      now: () => Date.now() + skewMs,
    });
    proxy = createProxyServer({
      vault,
      adminToken: ADMIN_TOKEN,
      logger: createProxyLogger({ destination: { write: (line: string) => logLines.push(line) } }),
    });
    proxy.server.on('request', (request) => wire.push(`${request.method} ${request.url}`));
    url = await proxy.listen({ port: 0 });
    process.env.KEYBRAKE_URL = url;
    process.env.KEYBRAKE_ADMIN_TOKEN = ADMIN_TOKEN;
  });
  afterAll(async () => {
    await proxy?.close();
    await Promise.all([fakeStripe?.close(), fakeTwilio?.close(), fakeResend?.close()]);
    for (const [name, value] of [
      ['KEYBRAKE_URL', savedEnv.url],
      ['KEYBRAKE_ADMIN_TOKEN', savedEnv.token],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return response.json() as Promise<unknown>;
  };
  const issue = (body: Record<string, unknown>) => admin('POST', '/vault/keys', body) as Promise<WireIssuedKey>;
  /** Runs `send` and returns what it threw, how many requests the proxy got, and how many the fake got. */
  const denial = async (fake: { requests: unknown[] }, send: () => Promise<unknown>) => {
    const [proxyBefore, fakeBefore] = [wire.length, fake.requests.length];
    const error = await send().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    return { error, onTheWire: wire.length - proxyBefore, atTheVendor: fake.requests.length - fakeBefore };
  };

  describe('when a team runs 100 parallel charges with stripe-node and 100 parallel SMS with twilio-node through it', () => {
    it('should hold the session, billing and notification caps, and the fakes should have received what the ledger says', async () => {
      // #region orchestrator
      // The orchestrator holds the admin token; the agents get vault keys only.
      const KEYBRAKE_URL = process.env.KEYBRAKE_URL ?? 'http://127.0.0.1:8787';
      const issueKey = async (policy: Record<string, unknown>) => {
        const response = await fetch(`${KEYBRAKE_URL}/vault/keys`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${process.env.KEYBRAKE_ADMIN_TOKEN}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify(policy),
        });
        if (response.status !== 201) throw new Error(`Keybrake: ${await response.text()}`);
        return (await response.json()) as { id: string; vault_key: string };
      };
      const session = await issueKey({ cap_usd: 200, expires_in: '1h', agent_run_label: 'billing-team/sess_42' });
      const billing = await issueKey({
        parent_id: session.id,
        vendor: 'stripe',
        cap_usd: 150,
        allowed_endpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'],
        agent_run_label: 'billing-team/sess_42/billing',
      });
      const notifications = await issueKey({
        parent_id: session.id,
        vendor: 'twilio',
        cap_usd: 50,
        allowed_endpoints: ['POST /2010-04-01/Accounts/*/Messages.json'],
        agent_run_label: 'billing-team/sess_42/notifications',
      });
      const mailer = await issueKey({
        parent_id: session.id,
        vendor: 'resend',
        cap_usd: 5,
        allowed_endpoints: ['POST /emails'],
        agent_run_label: 'billing-team/sess_42/mailer',
      });
      // #endregion orchestrator

      // #region agents
      // Each agent's SDK points at the proxy with its vault key; the real secrets never leave the proxy.
      const proxyUrl = new URL(KEYBRAKE_URL);
      const stripe = new Stripe(billing.vault_key, {
        host: proxyUrl.hostname,
        port: proxyUrl.port,
        protocol: 'http',
        maxNetworkRetries: 2,
      });
      const sms = twilio('AC00000000000000000000000000000000', notifications.vault_key, {
        httpClient: createTwilioHttpClient(twilio.RequestClient, { baseUrl: KEYBRAKE_URL }),
      });
      const resend = new Resend(mailer.vault_key, { baseUrl: KEYBRAKE_URL });
      // #endregion agents

      const wireBefore = wire.length;
      const results = await Promise.allSettled([
        ...Array.from({ length: 100 }, (_, index) =>
          stripe.paymentIntents.create({
            amount: 500,
            currency: 'usd',
            confirm: true,
            payment_method: 'pm_card_visa',
            customer: `cus_${index}`,
          }),
        ),
        ...Array.from({ length: 100 }, (_, index) =>
          sms.messages.create({ to: `+1500555${String(index).padStart(4, '0')}`, from: '+15005550001', body: 'Paid.' }),
        ),
      ]);
      const charges = results.slice(0, 100);
      const texts = results.slice(100);

      // Billing: $150 / $5 = 30 charges; Notifications: $50 / $0.75 = 66 SMS; session: $199.50 of $200.
      expect(charges.filter((result) => result.status === 'fulfilled')).toHaveLength(30);
      expect(texts.filter((result) => result.status === 'fulfilled')).toHaveLength(66);
      for (const result of charges.filter((entry) => entry.status === 'rejected')) {
        expect(result.reason).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
        expect(result.reason).toMatchObject({ code: 'KEYBRAKE_CAP_EXCEEDED', statusCode: 429 });
      }
      for (const result of texts.filter((entry) => entry.status === 'rejected')) {
        expect(result.reason).toBeInstanceOf(twilio.RestException);
        expect(result.reason).toMatchObject({ status: 429, message: expect.stringContaining('KEYBRAKE_CAP_EXCEEDED') });
      }
      // No SDK retried a denial: exactly one request per call reached the proxy.
      expect(wire.length - wireBefore).toBe(200);

      const stripeReceivedCents = fakeStripe.moneyMoved().reduce((sum, movement) => sum + movement.amount, 0);
      const twilioBilledMicros = fakeTwilio
        .messages()
        .reduce((sum, message) => sum + Math.round(Math.abs(Number(message.price)) * 1_000_000), 0);
      const billingStatus = await vault.getKeyStatus(billing.id);
      const notificationsStatus = await vault.getKeyStatus(notifications.id);
      const sessionStatus = await vault.getKeyStatus(session.id);
      expect(stripeReceivedCents).toBe(15_000);
      expect(billingStatus.spentMicros).toBe(stripeReceivedCents * 10_000);
      expect(fakeTwilio.messages()).toHaveLength(66);
      expect(twilioBilledMicros).toBe(49_500_000);
      expect(notificationsStatus.spentMicros).toBe(twilioBilledMicros);
      expect(sessionStatus.spentMicros).toBe(199_500_000);

      // The session has $0.50 left, whatever the mailer's own $5 cap says.
      const receipt = await resend.emails.send({
        from: 'billing@example.com',
        to: ['customer@example.com'],
        subject: 'Paid',
        text: 'Thanks.',
      });
      expect(receipt.error).toBeNull();
      expect((await vault.getKeyStatus(session.id)).remainingUsd).toBe(0.4991);
      expect(fakeTwilio.requests.every((request) => request.path.includes(TWILIO_SID))).toBe(true);
      expect(fakeStripe.requests.every((request) => request.headers.authorization === `Bearer ${STRIPE_SECRET}`)).toBe(
        true,
      );

      const audit = (await admin('GET', `/vault/audit?root_id=${session.id}&limit=1000`)) as WireAuditResult;
      expect(audit.records).toHaveLength(201);
      expect(audit.totals).toEqual(
        expect.arrayContaining([
          {
            key_id: billing.id,
            label: 'billing-team/sess_42/billing',
            calls: 100,
            allowed: 30,
            denied: 70,
            spent_usd: 150,
          },
          {
            key_id: notifications.id,
            label: 'billing-team/sess_42/notifications',
            calls: 100,
            allowed: 66,
            denied: 34,
            spent_usd: 49.5,
          },
        ]),
      );
    });
  });

  describe('when stripe-node sends through the proxy', () => {
    it("should pass and audit allowed calls, and deny a cap, an endpoint, an expired and a revoked key with Stripe's own errors, one request each", async () => {
      const proxyUrl = new URL(url);
      const connect = (vaultKey: string) =>
        new Stripe(vaultKey, { host: proxyUrl.hostname, port: proxyUrl.port, protocol: 'http', maxNetworkRetries: 2 });
      const key = await issue({
        vendor: 'stripe',
        cap_usd: 25,
        allowed_endpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'],
        expires_in: '1h',
        agent_run_label: 'stripe-e2e',
      });
      const stripe = connect(key.vault_key);
      const pay = (amount: number) =>
        stripe.paymentIntents.create({ amount, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
      const paid = await pay(2000);
      expect(paid.status).toBe('succeeded');
      const customer = await stripe.customers.retrieve('cus_missing').catch((error: unknown) => error);
      expect(customer).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError); // the fake's own 404, passed through

      const overCap = await denial(fakeStripe, () => pay(1000));
      expect(overCap.error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(overCap.error).toMatchObject({ code: 'KEYBRAKE_CAP_EXCEEDED', statusCode: 429 });
      expect((overCap.error as Error).message).toMatch(/Retrying will not help/);
      expect([overCap.onTheWire, overCap.atTheVendor]).toEqual([1, 0]);

      const offList = await denial(fakeStripe, () => stripe.refunds.create({ payment_intent: paid.id }));
      expect(offList.error).toBeInstanceOf(Stripe.errors.StripePermissionError);
      expect(offList.error).toMatchObject({ code: 'KEYBRAKE_ENDPOINT_NOT_ALLOWED', statusCode: 403 });
      expect([offList.onTheWire, offList.atTheVendor]).toEqual([1, 0]);

      const shortLived = await issue({ vendor: 'stripe', cap_usd: 25, expires_in: '1m' });
      skewMs += 120_000;
      const expired = await denial(fakeStripe, () => connect(shortLived.vault_key).customers.retrieve('cus_1'));
      expect(expired.error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      expect(expired.error).toMatchObject({ code: 'KEYBRAKE_KEY_EXPIRED' });
      expect([expired.onTheWire, expired.atTheVendor]).toEqual([1, 0]);

      await admin('DELETE', `/vault/keys/${key.id}`);
      const revoked = await denial(fakeStripe, () => pay(100));
      expect(revoked.error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      expect(revoked.error).toMatchObject({ code: 'KEYBRAKE_KEY_REVOKED' });
      expect([revoked.onTheWire, revoked.atTheVendor]).toEqual([1, 0]);

      const audit = (await admin('GET', `/vault/audit?key_id=${key.id}`)) as WireAuditResult;
      expect(audit.records.map((record) => [record.path, record.decision, record.reason])).toEqual([
        ['/v1/payment_intents', 'denied', 'KEYBRAKE_KEY_REVOKED'],
        ['/v1/refunds', 'denied', 'KEYBRAKE_ENDPOINT_NOT_ALLOWED'],
        ['/v1/payment_intents', 'denied', 'KEYBRAKE_CAP_EXCEEDED'],
        ['/v1/customers/cus_missing', 'allowed', null],
        ['/v1/payment_intents', 'allowed', null],
      ]);
      expect(audit.totals[0]).toMatchObject({ key_id: key.id, allowed: 2, denied: 3, spent_usd: 20 });
    });
  });

  describe('when twilio-node sends through the proxy', () => {
    it("should pass and audit allowed calls, and deny a cap, an endpoint, an expired and a revoked key with Twilio's RestException, one request each", async () => {
      const connect = (vaultKey: string) =>
        twilio('AC00000000000000000000000000000000', vaultKey, {
          httpClient: createTwilioHttpClient(twilio.RequestClient, { baseUrl: url }),
        });
      const key = await issue({
        vendor: 'twilio',
        cap_usd: 1,
        allowed_endpoints: ['POST /2010-04-01/Accounts/*/Messages.json', 'GET /2010-04-01/Accounts/*/Messages/*'],
        agent_run_label: 'twilio-e2e',
      });
      const sms = connect(key.vault_key);
      const send = () => sms.messages.create({ to: '+15005550006', from: '+15005550001', body: 'Hello' });
      const message = await send();
      expect(message.sid).toMatch(/^SM/);
      expect((await sms.messages(message.sid).fetch()).price).toBe('-0.75000');

      const overCap = await denial(fakeTwilio, send);
      expect(overCap.error).toBeInstanceOf(twilio.RestException);
      expect(overCap.error).toMatchObject({ status: 429, code: 20429 });
      expect((overCap.error as Error).message).toContain('KEYBRAKE_CAP_EXCEEDED');
      expect([overCap.onTheWire, overCap.atTheVendor]).toEqual([1, 0]);

      const offList = await denial(fakeTwilio, () =>
        sms.calls.create({ to: '+15005550006', from: '+15005550001', url: 'https://example.com/twiml' }),
      );
      expect(offList.error).toMatchObject({
        status: 403,
        message: expect.stringContaining('KEYBRAKE_ENDPOINT_NOT_ALLOWED'),
      });
      expect([offList.onTheWire, offList.atTheVendor]).toEqual([1, 0]);

      const shortLived = await issue({ vendor: 'twilio', cap_usd: 1, expires_in: '1m' });
      skewMs += 120_000;
      const expired = await denial(fakeTwilio, () =>
        connect(shortLived.vault_key).messages.create({ to: '+15005550006', from: '+15005550001', body: 'Hi' }),
      );
      expect(expired.error).toBeInstanceOf(twilio.RestException);
      expect(expired.error).toMatchObject({ status: 401, message: expect.stringContaining('KEYBRAKE_KEY_EXPIRED') });
      expect([expired.onTheWire, expired.atTheVendor]).toEqual([1, 0]);

      await admin('DELETE', `/vault/keys/${key.id}`);
      const revoked = await denial(fakeTwilio, send);
      expect(revoked.error).toMatchObject({ status: 401, message: expect.stringContaining('KEYBRAKE_KEY_REVOKED') });
      expect([revoked.onTheWire, revoked.atTheVendor]).toEqual([1, 0]);

      const audit = (await admin('GET', `/vault/audit?key_id=${key.id}`)) as WireAuditResult;
      expect(audit.totals[0]).toMatchObject({ allowed: 2, denied: 3, spent_usd: 0.75 });
      // The SMS's record was rewritten once, when its price was read back: the wire says so.
      const sent = audit.records.find((record) => record.method === 'POST' && record.decision === 'allowed');
      expect(sent).toMatchObject({ revision: 1, actual_usd: 0.75 });
      expect(audit.records.filter((record) => record !== sent).every((record) => record.revision === 0)).toBe(true);
    });
  });

  describe('when resend-node sends through the proxy', () => {
    it('should pass and audit allowed calls, and return a cap, an endpoint, an expired and a revoked key in { error }, one request each', async () => {
      const connect = (vaultKey: string) => new Resend(vaultKey, { baseUrl: url });
      const emailsBefore = fakeResend.emails().length;
      const key = await issue({
        vendor: 'resend',
        cap_usd: '0.002',
        allowed_endpoints: ['POST /emails', 'GET /emails/*'],
        agent_run_label: 'resend-e2e',
      });
      const resend = connect(key.vault_key);
      const email = { from: 'billing@example.com', to: ['customer@example.com'], subject: 'Paid', text: 'Thanks.' };
      const sent = await resend.emails.send(email);
      expect(sent.error).toBeNull();
      expect(sent.data?.id).toBeTypeOf('string');
      expect((await resend.emails.send({ ...email, to: ['a@example.com'] })).error).toBeNull();

      const overCap = await denial(fakeResend, async () => {
        throw (await resend.emails.send(email)).error;
      });
      expect(overCap.error).toMatchObject({
        statusCode: 429,
        name: 'monthly_quota_exceeded',
        message: expect.stringContaining('KEYBRAKE_CAP_EXCEEDED'),
      });
      expect([overCap.onTheWire, overCap.atTheVendor]).toEqual([1, 0]);

      const offList = await denial(fakeResend, async () => {
        throw (await resend.domains.create({ name: 'example.com' })).error;
      });
      expect(offList.error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
      expect([offList.onTheWire, offList.atTheVendor]).toEqual([1, 0]);

      const shortLived = await issue({ vendor: 'resend', cap_usd: 1, expires_in: '1m' });
      skewMs += 120_000;
      const expired = await denial(fakeResend, async () => {
        throw (await connect(shortLived.vault_key).emails.send(email)).error;
      });
      expect(expired.error).toMatchObject({ statusCode: 401, name: 'invalid_api_key' });
      expect([expired.onTheWire, expired.atTheVendor]).toEqual([1, 0]);

      await admin('DELETE', `/vault/keys/${key.id}`);
      const revoked = await denial(fakeResend, async () => {
        throw (await resend.emails.send(email)).error;
      });
      expect(revoked.error).toMatchObject({
        statusCode: 401,
        message: expect.stringContaining('KEYBRAKE_KEY_REVOKED'),
      });
      expect([revoked.onTheWire, revoked.atTheVendor]).toEqual([1, 0]);
      expect(fakeResend.emails()).toHaveLength(emailsBefore + 2);
    });
  });

  describe('when resend-node manages API keys through the proxy', () => {
    it('should never forward them, whatever the allow-list or fallback: a new key would be a real, uncapped credential', async () => {
      const key = await issue({ vendor: 'resend', cap_usd: 1, fallback_estimate_usd: '0.01', agent_run_label: 'keys' });
      const resend = new Resend(key.vault_key, { baseUrl: url });
      for (const attempt of [
        () => resend.apiKeys.create({ name: 'agent', permission: 'full_access' }),
        () => resend.apiKeys.list(),
        () => resend.apiKeys.remove('dacf4072-4119-4d88-932f-6202748ac7c8'),
      ]) {
        const refused = await denial(fakeResend, async () => {
          throw (await attempt()).error;
        });
        expect(refused.error).toMatchObject({
          statusCode: 403,
          name: 'restricted_api_key',
          message: expect.stringContaining('Resend API keys are credentials'),
        });
        expect([refused.onTheWire, refused.atTheVendor]).toEqual([1, 0]);
      }
    });
  });

  describe('when resend-node sends a broadcast on a key with a fallback estimate', () => {
    it('should send neither broadcasts.send nor broadcasts.create with send: a segment has no price a fallback can stand for', async () => {
      const key = await issue({ vendor: 'resend', cap_usd: 5, fallback_estimate_usd: '0.01', agent_run_label: 'news' });
      const resend = new Resend(key.vault_key, { baseUrl: url });
      for (const attempt of [
        () => resend.broadcasts.send('49a3999c-0ce1-4ea6-ab68-afcd6dc2e794'),
        () => resend.broadcasts.send('49a3999c-0ce1-4ea6-ab68-afcd6dc2e794', { scheduledAt: 'in 1 hour' }),
        () =>
          resend.broadcasts.create({
            segmentId: 'seg_50k',
            from: 'news@example.com',
            subject: 'Sale',
            html: '<p>Sale</p>',
            send: true,
          }),
      ]) {
        const refused = await denial(fakeResend, async () => {
          throw (await attempt()).error;
        });
        expect(refused.error).toMatchObject({
          statusCode: 403,
          message: expect.stringMatching(/^KEYBRAKE_UNKNOWN_COST: .*a broadcast to a segment cannot be priced/),
        });
        expect([refused.onTheWire, refused.atTheVendor]).toEqual([1, 0]);
      }
      expect(((await admin('GET', `/vault/keys/${key.id}`)) as WireKeyStatus).spent_usd).toBe(0);
    });
  });

  describe('when resend-node sends a batch with CC and BCC', () => {
    it('should count every recipient of every email, exactly, and deny a batch the cap cannot hold', async () => {
      const key = await issue({ vendor: 'resend', cap_usd: '0.01', agent_run_label: 'resend-batch' });
      const resend = new Resend(key.vault_key, { baseUrl: url });
      const before = fakeResend.emails().length;
      const batch = await resend.batch.send([
        {
          from: 'billing@example.com',
          to: ['a@example.com', 'b@example.com'],
          cc: 'c@example.com',
          subject: 'Paid',
          text: '1',
        },
        {
          from: 'billing@example.com',
          to: 'd@example.com',
          bcc: ['e@example.com', 'f@example.com'],
          subject: 'Paid',
          text: '2',
        },
      ]);
      expect(batch.error).toBeNull();
      expect(batch.data?.data).toHaveLength(2);
      const status = (await admin('GET', `/vault/keys/${key.id}`)) as WireKeyStatus;
      expect(status.spent_usd).toBe(0.0054); // 6 recipients × $0.0009
      expect(
        fakeResend
          .emails()
          .slice(before)
          .map((email) => email.recipients),
      ).toEqual([3, 3]);

      const tooBig = Array.from({ length: 6 }, (_, index) => ({
        from: 'billing@example.com',
        to: `r${index}@example.com`,
        subject: 'Paid',
        text: 'x',
      }));
      const received = fakeResend.requests.length;
      const denied = await resend.batch.send(tooBig); // 6 × $0.0009 = $0.0054 > the $0.0046 left
      expect(denied.error).toMatchObject({
        statusCode: 429,
        message: expect.stringContaining('KEYBRAKE_CAP_EXCEEDED'),
      });
      expect(fakeResend.requests.length).toBe(received);
    });
  });

  describe('when resend-node sends a permissive batch with an email Resend refuses', () => {
    it('should settle at the recipients of the emails Resend accepted, as its errors[].index says', async () => {
      const key = await issue({ vendor: 'resend', cap_usd: 1, agent_run_label: 'resend-permissive' });
      const resend = new Resend(key.vault_key, { baseUrl: url });
      const before = fakeResend.emails().length;
      const email = { from: 'billing@example.com', subject: 'Paid', text: 'x' };
      const result = await resend.batch.send(
        [
          { ...email, to: ['a@example.com', 'b@example.com'], cc: 'c@example.com' },
          { ...email, from: 'not an address', to: ['d@example.com', 'e@example.com'] },
          { ...email, to: 'f@example.com' },
        ],
        { batchValidation: 'permissive' },
      );
      expect(result.error).toBeNull();
      expect(result.data?.errors).toEqual([{ index: 1, message: expect.stringMatching(/^Invalid `from` field/) }]);
      const sent = fakeResend.emails().slice(before);
      expect(sent.map((accepted) => accepted.recipients)).toEqual([3, 1]);
      // Reserved for 6 recipients ($0.0054); settled at the 4 that were sent.
      const status = (await admin('GET', `/vault/keys/${key.id}`)) as WireKeyStatus;
      expect(status).toMatchObject({ spent_usd: 0.0036, reserved_usd: 0 });
    });
  });

  describe('when the run is over', () => {
    it('should have logged every call without a secret, a vault key or the admin token', () => {
      const calls = logLines.filter((line) => line.includes('"decision"'));
      expect(calls.length).toBeGreaterThanOrEqual(200);
      expect(calls.some((line) => line.includes('KEYBRAKE_CAP_EXCEEDED'))).toBe(true);
      const all = logLines.join('');
      for (const secret of [STRIPE_SECRET, TWILIO_TOKEN, RESEND_SECRET, ADMIN_TOKEN]) expect(all).not.toContain(secret);
      expect(all).not.toMatch(/kb_(test|live)_/);
      expect(all).not.toMatch(/authorization/i);
    });
  });

  describe('when the README is read', () => {
    it('should show the code these tests run', () => {
      const source = readFileSync(new URL(import.meta.url), 'utf8');
      const readme = readFileSync(new URL('../../packages/server/README.md', import.meta.url), 'utf8');
      for (const region of ['orchestrator', 'agents']) {
        const start = source.indexOf(`// #region ${region}\n`) + `// #region ${region}\n`.length;
        const snippet = source
          .slice(start, source.indexOf(`      // #endregion ${region}`, start))
          .replace(/^ {6}/gm, '');
        expect(snippet.length).toBeGreaterThan(300);
        expect(readme).toContain(snippet);
      }
    });
  });
});
