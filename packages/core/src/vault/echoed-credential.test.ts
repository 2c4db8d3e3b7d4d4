// A vendor, or a gateway in front of one, that quotes the credential it received: the real secret
// must not reach the caller (nor, through an SDK's error, the model), the cost model or the audit.
import Stripe from 'stripe';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioHttpClient } from '../sdks/create-twilio-http-client.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault } from './create-vault.js';

const STRIPE_SECRET = 'sk_live_51EchoedSecretMustNeverReachTheAgent0123';
const TWILIO_SID = `AC${'1'.repeat(32)}`;
const TWILIO_TOKEN = 'twilioAuthTokenEchoedBack0123456789';
const BASIC = Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64');
const leaks = (text: string) => [STRIPE_SECRET, TWILIO_TOKEN, BASIC].filter((secret) => text.includes(secret));

describe('an upstream that echoes the credential it received', () => {
  let echo: Awaited<ReturnType<typeof startRecordingUpstream>>;
  beforeAll(async () => {
    echo = await startRecordingUpstream((request) => {
      const auth = String(request.headers.authorization);
      return {
        status: 401,
        headers: { 'x-echo': `got ${auth}`, 'request-id': auth },
        body: {
          error: { type: 'invalid_request_error', message: `Invalid Authorization header: ${auth}` },
          code: 20003,
          message: `Authenticate: ${auth}, password ${auth.startsWith('Basic') ? TWILIO_TOKEN : ''}`,
          status: 401,
          escaped: auth.replaceAll('/', '\\/'),
        },
      };
    });
  });
  afterAll(() => echo.close());
  const makeVault = () =>
    createVault({
      secrets: { stripe: STRIPE_SECRET, twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
      upstreams: { stripe: echo.url, twilio: echo.url },
    });

  it('should redact it from the body and headers the caller gets, and from the audit record', async () => {
    const vault = makeVault();
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 5 });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })('https://api.stripe.com/v1/customers/cus_1');
      expect(response.status).toBe(401);
      const text = await response.text();
      expect(leaks(text)).toEqual([]);
      expect(text).toContain('Invalid Authorization header: Bearer [redacted by keybrake]');
      expect(leaks(JSON.stringify([...response.headers]))).toEqual([]);
      expect(response.headers.get('x-echo')).toBe('got Bearer [redacted by keybrake]');
      // The request id is audited only if it looks like one.
      const { records } = await vault.queryAudit({ keyId: key.id });
      expect(leaks(JSON.stringify(records))).toEqual([]);
      expect(records[0]?.vendorRequestId).toBeUndefined();
      // The vendor did get the real secret: only what comes back is redacted.
      expect(echo.received.at(-1)?.headers.authorization).toBe(`Bearer ${STRIPE_SECRET}`);
    } finally {
      await vault.close();
    }
  });

  it('should keep the secret out of the errors the official SDKs throw, Basic credentials included', async () => {
    const vault = makeVault();
    try {
      const stripeKey = await vault.issueKey({ vendor: 'stripe', capUsd: 5 });
      const stripe = new Stripe(stripeKey.vaultKey, {
        httpClient: Stripe.createFetchHttpClient(vault.createFetch()),
        maxNetworkRetries: 0,
      });
      const stripeError = (await stripe.customers.retrieve('cus_1').catch((error: unknown) => error)) as Error;
      expect(stripeError.message).toContain('[redacted by keybrake]');
      expect(leaks(stripeError.message)).toEqual([]);

      const twilioKey = await vault.issueKey({ vendor: 'twilio', capUsd: 5 });
      const client = twilio(TWILIO_SID, twilioKey.vaultKey, {
        httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
      });
      const twilioError = (await client
        .messages('SM1')
        .fetch()
        .catch((error: unknown) => error)) as Error;
      expect(twilioError.message).toContain('[redacted by keybrake]');
      expect(leaks(`${twilioError.message} ${JSON.stringify(twilioError)}`)).toEqual([]);
    } finally {
      await vault.close();
    }
  });

  it('should still audit an ordinary vendor request id', async () => {
    const plain = await startRecordingUpstream();
    const vault = createVault({ secrets: { stripe: STRIPE_SECRET }, upstreams: { stripe: plain.url } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 5 });
      await vault.createFetch({ vaultKey: key.vaultKey })('https://api.stripe.com/v1/customers/cus_1');
      expect((await vault.queryAudit({ keyId: key.id })).records[0]?.vendorRequestId).toBe('req_1');
    } finally {
      await vault.close();
      await plain.close();
    }
  });
});
