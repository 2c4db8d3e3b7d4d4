// The README's embedded-mode snippets, run against the testkit's fake upstreams with the official SDKs.
import { createFakeStripe, createFakeTwilio } from '@keybrake/testkit';
import Stripe from 'stripe';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openTeamSession } from '../team/open-team-session.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault } from '../vault/create-vault.js';
import { createTwilioHttpClient } from './create-twilio-http-client.js';

const STRIPE_SECRET = 'sk_test_51RealSecretNeverLeavesTheVault0123';
const TWILIO_SID = `AC${'1'.repeat(32)}`;
const TWILIO_TOKEN = 'real_twilio_auth_token_0123456789';

describe('official SDKs through the capped fetch (embedded mode)', () => {
  let fakeStripe: Awaited<ReturnType<typeof createFakeStripe>>;
  let fakeTwilio: Awaited<ReturnType<typeof createFakeTwilio>>;
  beforeAll(async () => {
    fakeStripe = await createFakeStripe({ secret: STRIPE_SECRET });
    fakeTwilio = await createFakeTwilio({ accountSid: TWILIO_SID, secret: TWILIO_TOKEN, pricePerSegment: '0.0100' });
  });
  afterAll(async () => {
    await fakeStripe.close();
    await fakeTwilio.close();
  });
  const makeVault = () =>
    createVault({
      secrets: { stripe: STRIPE_SECRET, twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
      upstreams: { stripe: fakeStripe.url, twilio: fakeTwilio.url },
      fx: { jpy: '0.0067', kwd: '3.25', eur: '1.08' },
    });

  describe('stripe', () => {
    it('should charge with exact micro-dollars in any configured currency and stop at the cap with StripeRateLimitError', async () => {
      fakeStripe.reset();
      const vault = makeVault();
      const key = await vault.issueKey({
        vendor: 'stripe',
        capUsd: 50,
        allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'],
        expiresIn: '1h',
        label: 'billing-agent/run-42',
      });
      const stripe = new Stripe(key.vaultKey, {
        httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
        maxNetworkRetries: 2,
      });
      const pay = (amount: number, currency: string) =>
        stripe.paymentIntents.create({ amount, currency, confirm: true, payment_method: 'pm_card_visa' });
      await pay(2000, 'usd'); // $20.00
      await pay(1000, 'jpy'); // ¥1000 × 0.0067 = $6.70
      await pay(1500, 'kwd'); // KWD 1.500 × 3.25 = $4.875
      await pay(1000, 'eur'); // €10.00 × 1.08 = $10.80
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(20_000_000 + 6_700_000 + 4_875_000 + 10_800_000);
      expect(fakeStripe.moneyMoved()).toHaveLength(4);

      const before = fakeStripe.requests.length;
      const denial = await pay(1000, 'usd').catch((error: unknown) => error);
      expect(denial).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(denial).toMatchObject({ code: 'KEYBRAKE_CAP_EXCEEDED', statusCode: 429 });
      expect((denial as Error).message).toMatch(/Retrying will not help/);
      expect(fakeStripe.requests.length).toBe(before);

      const gbp = await pay(100, 'gbp').catch((error: unknown) => error);
      expect(gbp).toMatchObject({ code: 'KEYBRAKE_UNKNOWN_CURRENCY' });
      const refund = await stripe.refunds.create({ payment_intent: 'pi_1' }).catch((error: unknown) => error);
      expect(refund).toBeInstanceOf(Stripe.errors.StripePermissionError);
      expect(refund).toMatchObject({ code: 'KEYBRAKE_ENDPOINT_NOT_ALLOWED' });
      await vault.revokeKey(key.id);
      const revoked = await stripe.customers.retrieve('cus_1').catch((error: unknown) => error);
      expect(revoked).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      expect(fakeStripe.requests.length).toBe(before);
      expect(fakeStripe.requests.every((request) => request.headers.authorization === `Bearer ${STRIPE_SECRET}`)).toBe(
        true,
      );
      await vault.close();
    });
    it('should not confirm a PaymentIntent whose key is revoked while Keybrake reads it to price the call', async () => {
      const slowStripe = await createFakeStripe({ secret: STRIPE_SECRET, latencyMs: 500 });
      const vault = createVault({ secrets: { stripe: STRIPE_SECRET }, upstreams: { stripe: slowStripe.url } });
      try {
        const stripeWith = (vaultKey: string) =>
          new Stripe(vaultKey, { httpClient: Stripe.createFetchHttpClient(vault.createFetch()), maxNetworkRetries: 0 });
        const setup = await vault.issueKey({ vendor: 'stripe', capUsd: 100 });
        const agent = await vault.issueKey({ vendor: 'stripe', capUsd: 100, label: 'billing-agent/run-43' });
        const intent = await stripeWith(setup.vaultKey).paymentIntents.create({ amount: 2000, currency: 'usd' });
        const confirming = stripeWith(agent.vaultKey)
          .paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' })
          .catch((error: unknown) => error);
        // The estimate reads the PaymentIntent (its amount) before the confirmation is priced.
        await vi.waitFor(() => expect(slowStripe.requests.map((request) => request.method)).toEqual(['POST', 'GET']));
        await vault.revokeKey(agent.id);
        const denial = await confirming;
        expect(denial).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
        expect(denial).toMatchObject({ code: 'KEYBRAKE_KEY_REVOKED' });
        expect(slowStripe.requests.map((request) => request.method)).toEqual(['POST', 'GET']);
        expect(slowStripe.moneyMoved()).toEqual([]);
      } finally {
        await vault.close();
        await slowStripe.close();
      }
    });
    it("should confirm a member's PaymentIntent when the member's key is refreshed while Keybrake prices it", async () => {
      const slowStripe = await createFakeStripe({ secret: STRIPE_SECRET, latencyMs: 300 });
      const vault = createVault({ secrets: { stripe: STRIPE_SECRET }, upstreams: { stripe: slowStripe.url } });
      try {
        const team = await openTeamSession(vault, {
          label: 'billing-team/refresh-race',
          capUsd: 100,
          members: { billing: { vendor: 'stripe', capUsd: 50, keyTtl: '10m' } },
        });
        const billing = team.member('billing');
        const stripe = new Stripe(billing.key('stripe').vaultKey, {
          httpClient: Stripe.createFetchHttpClient(billing.fetch('stripe')),
          maxNetworkRetries: 0,
        });
        const intent = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd' });
        const confirming = stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' });
        await vi.waitFor(() => expect(slowStripe.requests.map((request) => request.method)).toEqual(['POST', 'GET']));
        await billing.refresh();
        // Denied as revoked at the first check, nothing sent: sent again with the new key.
        expect(await confirming).toMatchObject({ status: 'succeeded' });
        expect(slowStripe.moneyMoved()).toHaveLength(1);
        expect(await billing.status()).toMatchObject({ spentUsd: 20 });
        await team.close();
      } finally {
        await vault.close();
        await slowStripe.close();
      }
    });
    it('should never forward ephemeral keys, meter event sessions, Terminal connection tokens, account sessions, login links or the Apps secret store, whatever the allow-list or fallback', async () => {
      fakeStripe.reset();
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 5, fallbackEstimateUsd: 1, label: 'support-agent' });
      const stripe = new Stripe(key.vaultKey, {
        httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
        maxNetworkRetries: 2,
      });
      const attempts = [
        stripe.ephemeralKeys.create({ customer: 'cus_NffrFeUfNV2Hib' }, { apiVersion: '2025-01-27.acacia' }),
        stripe.ephemeralKeys.del('ephkey_1MwZ7xLkdIwHu7ixF6brHoGb'),
        stripe.apps.secrets.find({ name: 'partner-api-key', scope: { type: 'account' }, expand: ['payload'] }),
        stripe.rawRequest('POST', '/v1/Ephemeral_Keys', { customer: 'cus_NffrFeUfNV2Hib' }),
        stripe.v2.billing.meterEventSession.create(),
        stripe.terminal.connectionTokens.create(),
        stripe.accountSessions.create({
          account: 'acct_1Pgc7HKmsySxIypT',
          components: { payouts: { enabled: true, features: { instant_payouts: true } } },
        }),
        stripe.accounts.createLoginLink('acct_1PgafTB7WZ01zgkW'),
        stripe.rawRequest('POST', '/v1/Terminal/Connection_Tokens', {}),
      ];
      for (const denial of await Promise.all(attempts.map((attempt) => attempt.catch((error: unknown) => error)))) {
        expect(denial).toBeInstanceOf(Stripe.errors.StripePermissionError);
        expect(denial).toMatchObject({ statusCode: 403, code: 'KEYBRAKE_ENDPOINT_NOT_ALLOWED' });
        expect((denial as Error).message).toMatch(/are credentials|holds credentials|directly/);
      }
      expect(fakeStripe.requests).toHaveLength(0);
      await vault.close();
    });
  });

  describe('twilio', () => {
    it('should reserve UCS-2 segments, reconcile to the real price on a later GET, and raise RestException past the cap', async () => {
      fakeTwilio.reset();
      const vault = makeVault();
      const team = await openTeamSession(vault, {
        label: 'billing-team/sess_42',
        capUsd: 200,
        ttl: '1h',
        members: {
          billing: {
            vendor: 'stripe',
            capUsd: 150,
            allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'],
          },
          notifications: { vendor: 'twilio', capUsd: 0.05, shareKeysOf: ['billing'] },
        },
      });
      const notifications = team.member('notifications');
      const sms = twilio('AC00000000000000000000000000000000', notifications.key('twilio').vaultKey, {
        httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: notifications.fetch('twilio') }),
      });
      const body = `Your invoice is paid 🎉 ${'x'.repeat(60)}`; // one emoji → UCS-2; 84 code units → 2 segments
      const message = await sms.messages.create({ to: '+15005550006', from: '+15005550001', body });
      expect(message.price).toBeNull();
      expect((await notifications.status()).spentMicros).toBe(2 * 8_300);
      const fetched = await sms.messages(message.sid).fetch();
      expect(fetched.price).toBe('-0.02000');
      expect((await notifications.status()).spentMicros).toBe(20_000);
      expect(fakeTwilio.messages()[0]?.segments).toBe(2);

      await sms.messages.create({ to: '+15005550006', from: '+15005550001', body });
      const received = fakeTwilio.requests.length;
      const denial = await sms.messages
        .create({ to: '+15005550006', from: '+15005550001', body })
        .catch((error: unknown) => error);
      expect(denial).toBeInstanceOf(twilio.RestException);
      expect(denial).toMatchObject({ status: 429 });
      expect((denial as Error).message).toContain('KEYBRAKE_CAP_EXCEEDED');
      expect(fakeTwilio.requests.length).toBe(received);
      expect(fakeTwilio.requests.every((request) => request.path.includes(TWILIO_SID))).toBe(true);
      await team.close();
      await vault.close();
    });

    it("should reconcile every pending message of a list page to Twilio's price", async () => {
      fakeTwilio.reset();
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'twilio', capUsd: 1, label: 'notifier/run-7' });
      const sms = twilio('AC00000000000000000000000000000000', key.vaultKey, {
        httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
      });
      const send = (body: string) => sms.messages.create({ to: '+15005550006', from: '+15005550001', body });
      const short = await send('Your invoice is paid'); // 1 GSM-7 segment
      const long = await send('b'.repeat(200)); // 2 GSM-7 segments
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(3 * 8_300); // estimated at $0.0083 a segment

      const listed = await sms.messages.list();
      expect(listed.map((message) => [message.sid, message.price])).toEqual([
        [long.sid, '-0.02000'],
        [short.sid, '-0.01000'],
      ]);
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(30_000); // Twilio's $0.0100 a segment
      const { records } = await vault.queryAudit({ keyId: key.id });
      const reconciled = records.filter((record) => record.note?.includes("reconciled to the vendor's price"));
      expect(reconciled.map((record) => record.actualMicros).sort()).toEqual([10_000, 20_000]);
      expect(reconciled.every((record) => record.label === 'notifier/run-7' && record.method === 'POST')).toBe(true);
      expect(reconciled.map((record) => record.revision)).toEqual([1, 1]);

      // Reconciled once: listing again changes nothing.
      await sms.messages.list();
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(30_000);
      await vault.close();
    });

    it('should never forward the Account resource, which carries the real auth token, whatever the allow-list', async () => {
      fakeTwilio.reset();
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'twilio', capUsd: 1, label: 'sms-agent' });
      const client = twilio('AC00000000000000000000000000000000', key.vaultKey, {
        httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
      });
      const attempts = [
        client.api.v2010.accounts('AC00000000000000000000000000000000').fetch(),
        client.api.v2010.accounts.list(),
        client.api.v2010.accounts.create({ friendlyName: 'sub' }),
        client.api.v2010.account.keys.list(),
        client.api.v2010.account.newKeys.create(),
        client.api.v2010.account.tokens.create(),
        client.api.v2010.account.sip
          .credentialLists('CL00000000000000000000000000000000')
          .credentials.create({ username: 'agent', password: 'Str0ngPassw0rd!' }),
        // An address the agent picks could call into the account's SIP domains with no password at all.
        client.api.v2010.account.sip
          .ipAccessControlLists('AL00000000000000000000000000000000')
          .ipAddresses.create({ friendlyName: 'agent', ipAddress: '203.0.113.9' }),
        client.api.v2010.account.sip
          .domains('SD00000000000000000000000000000000')
          .auth.calls.ipAccessControlListMappings.create({
            ipAccessControlListSid: 'AL00000000000000000000000000000000',
          }),
        client.api.v2010.account.sip
          .domains('SD00000000000000000000000000000000')
          .credentialListMappings.create({ credentialListSid: 'CL00000000000000000000000000000000' }),
      ];
      for (const denial of await Promise.all(attempts.map((attempt) => attempt.catch((error: unknown) => error)))) {
        expect(denial).toBeInstanceOf(twilio.RestException);
        expect(denial).toMatchObject({ status: 403 });
        expect((denial as Error).message).toContain('KEYBRAKE_ENDPOINT_NOT_ALLOWED');
      }
      expect(fakeTwilio.requests).toHaveLength(0);

      // Nor in another letter case or with another extension, which Twilio may route alike.
      const fallback = await vault.issueKey({ vendor: 'twilio', capUsd: 1, fallbackEstimateUsd: '0.01' });
      const send = vault.createFetch({ vaultKey: fallback.vaultKey });
      for (const path of ['keys.json', 'KEYS.json', 'signingkeys.json', 'Keys.csv', 'Keys']) {
        const answer = await send(`https://api.twilio.com/2010-04-01/Accounts/${TWILIO_SID}/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'FriendlyName=agent',
        });
        expect([path, answer.status]).toEqual([path, 403]);
      }
      expect((await send(`https://api.twilio.com/2010-04-01/Accounts/${TWILIO_SID}.csv`)).status).toBe(403);
      expect(fakeTwilio.requests).toHaveLength(0);
      await vault.close();
    });

    it('should refuse Twilio products on other hosts (Messaging, Verify, Lookups, IAM) with a RestException, sending nothing', async () => {
      fakeTwilio.reset();
      const vault = makeVault();
      const key = await vault.issueKey({
        vendor: 'twilio',
        capUsd: 1,
        fallbackEstimateUsd: '0.01',
        label: 'sms-agent',
      });
      const client = twilio('AC00000000000000000000000000000000', key.vaultKey, {
        httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
      });
      const attempts = [
        client.messaging.v1.services.list(),
        client.verify.v2.services.create({ friendlyName: 'login' }),
        client.lookups.v2.phoneNumbers('+15005550006').fetch({ fields: 'line_type_intelligence' }),
        client.iam.v1.newApiKey.create({ accountSid: TWILIO_SID, friendlyName: 'agent' }),
      ];
      for (const denial of await Promise.all(attempts.map((attempt) => attempt.catch((error: unknown) => error)))) {
        expect(denial).toBeInstanceOf(twilio.RestException);
        expect(denial).toMatchObject({ status: 403, code: 20403 });
        expect((denial as Error).message).toMatch(/^KEYBRAKE_ENDPOINT_NOT_ALLOWED: .*is another Twilio product/);
        expect((denial as Error).message).not.toContain(key.vaultKey);
      }
      // The same SDK still reaches the REST API, through an edge and region too.
      const viaEdge = twilio('AC00000000000000000000000000000000', key.vaultKey, {
        httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
        edge: 'sydney',
        region: 'au1',
      });
      await viaEdge.messages.list({ limit: 1 });
      expect(fakeTwilio.requests.map((request) => request.method)).toEqual(['GET']);
      await vault.close();
    });

    it('should reserve 4 hours for a call without TimeLimit, so calls Twilio runs that long stay within the cap', async () => {
      const longCalls = await createFakeTwilio({
        accountSid: TWILIO_SID,
        secret: TWILIO_TOKEN,
        pricePerMinute: '0.0140',
        callDurationSeconds: 14_400,
      });
      const vault = createVault({
        secrets: { twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
        upstreams: { twilio: longCalls.url },
      });
      try {
        const key = await vault.issueKey({ vendor: 'twilio', capUsd: 10, label: 'dialer/run-1' });
        const voice = twilio('AC00000000000000000000000000000000', key.vaultKey, {
          httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
        });
        const placed: string[] = [];
        for (let attempt = 0; attempt < 5; attempt++) {
          const call = await voice.calls
            .create({ to: '+15005550006', from: '+15005550001', twiml: '<Response><Say>Hi</Say></Response>' })
            .catch(() => undefined);
          if (call) placed.push(call.sid);
        }
        expect(placed).toHaveLength(2); // 2 × 240 min × $0.014 = $6.72; a third would pass $10
        for (const sid of placed) await voice.calls(sid).fetch(); // Twilio's price for 4 hours replaces the estimate
        expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(2 * 3_360_000);
      } finally {
        await vault.close();
        await longCalls.close();
      }
    });

    it('should deny calls to an unpriced destination even with a TimeLimit and a fallback, sending nothing', async () => {
      fakeTwilio.reset();
      const vault = makeVault();
      try {
        // No +44 price is configured: 4 hours at $0.25 a minute is $60 a call, which no $0.05
        // fallback can stand for, TimeLimit or not.
        const key = await vault.issueKey({ vendor: 'twilio', capUsd: 5, fallbackEstimateUsd: '0.05' });
        const voice = twilio('AC00000000000000000000000000000000', key.vaultKey, {
          httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
        });
        const place = (timeLimit?: number) =>
          voice.calls
            .create({ to: '+447700900123', from: '+15005550001', url: 'https://example.com/t', timeLimit })
            .catch((error: unknown) => error);
        const denials = await Promise.all([place(14_400), place(14_400), place(999_999_999), place()]);
        for (const denial of denials) {
          expect(denial).toBeInstanceOf(twilio.RestException);
          expect(denial).toMatchObject({ status: 403 });
          expect((denial as Error).message).toMatch(
            /^KEYBRAKE_UNKNOWN_COST: .*\(callPerMinuteUsdByPrefix\).*configure its price/,
          );
        }
        expect(fakeTwilio.requests).toHaveLength(0);
        expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(0);
      } finally {
        await vault.close();
      }
    });

    it("should price a conference participant as the call it places, and count Twilio's price for that call", async () => {
      const callSid = `CA${'2'.repeat(32)}`;
      const conferenceSid = `CF${'3'.repeat(32)}`;
      const upstream = await startRecordingUpstream((request) =>
        request.method === 'POST'
          ? {
              status: 201,
              body: { account_sid: TWILIO_SID, call_sid: callSid, conference_sid: conferenceSid, status: 'queued' },
            }
          : { body: { sid: callSid, status: 'completed', price: '-0.50000', price_unit: 'USD' } },
      );
      const vault = createVault({
        secrets: { twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
        upstreams: { twilio: upstream.url },
      });
      try {
        const key = await vault.issueKey({ vendor: 'twilio', capUsd: 1, fallbackEstimateUsd: '0.05' });
        const voice = twilio('AC00000000000000000000000000000000', key.vaultKey, {
          httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
        });
        const participants = voice.conferences(conferenceSid).participants;
        const to = '+15005550006';
        // Without TimeLimit it may ring for 4 hours: 240 min × $0.014 = $3.36, over the $1 cap.
        const denial = await participants.create({ from: '+15005550001', to }).catch((error: unknown) => error);
        expect(denial).toMatchObject({ status: 429, message: expect.stringContaining('KEYBRAKE_CAP_EXCEEDED') });
        expect(upstream.received).toHaveLength(0);

        const participant = await participants.create({ from: '+15005550001', to, timeLimit: 600 });
        expect(participant.callSid).toBe(callSid);
        expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(10 * 14_000);
        // Twilio reports the price on the call the participant was dialled on.
        expect((await voice.calls(callSid).fetch()).price).toBe('-0.50000');
        expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(500_000);
      } finally {
        await vault.close();
        await upstream.close();
      }
    });

    it('should deny a call or message sent off its .json route (extensionless, .xml, PUT) even with a fallback, sending nothing', async () => {
      fakeTwilio.reset();
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'twilio', capUsd: 1, fallbackEstimateUsd: '0.05' });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const post = async (route: string, form: Record<string, string>, method = 'POST') => {
        const answer = await send(`https://api.twilio.com/2010-04-01/Accounts/${TWILIO_SID}/${route}`, {
          method,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(form),
        });
        const body = (await answer.json()) as { message?: string };
        return [route, method, answer.status, body.message?.split(':')[0]];
      };
      const call = { To: '+15005550006', From: '+15005550001', Url: 'https://example.com/t' };
      // On .json: 240 min × $0.014 = $3.36, over the $1 cap.
      expect(await post('Calls.json', call)).toEqual(['Calls.json', 'POST', 429, 'KEYBRAKE_CAP_EXCEEDED']);
      // The same 4-hour call on Twilio's other routes would have passed at the $0.05 fallback.
      for (const [route, method] of [
        ['Calls', 'POST'],
        ['Calls.xml', 'POST'],
        ['calls.json', 'POST'],
        ['Calls.json', 'PUT'],
        ['Conferences/CF1/Participants.xml', 'POST'],
        ['Messages.xml', 'POST'],
        ['Calls/CA1.xml', 'DELETE'],
      ] as const) {
        expect(await post(route, call, method)).toEqual([route, method, 403, 'KEYBRAKE_UNKNOWN_COST']);
      }
      expect(fakeTwilio.requests).toHaveLength(0);
      await vault.close();
    });

    it("should let a message to an unpriced destination through at the fallback, then count Twilio's price for it", async () => {
      fakeTwilio.reset();
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'twilio', capUsd: 1, fallbackEstimateUsd: '0.001' });
      const sms = twilio('AC00000000000000000000000000000000', key.vaultKey, {
        httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
      });
      // No +44 price is configured: 10 segments at the fake's $0.01, reserved at the $0.001 fallback.
      const message = await sms.messages.create({ to: '+447700900123', from: '+15005550001', body: 'x'.repeat(1530) });
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(1_000);
      expect((await sms.messages(message.sid).fetch()).price).toBe('-0.10000');
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(100_000);
      await vault.close();
    });
  });
});
