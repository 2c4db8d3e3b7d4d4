// A vendor, or a gateway in front of one, that quotes the credential it received: the real secret
// must not reach the caller (nor, through an SDK's error, the model), the cost model or the audit.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import Stripe from 'stripe';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { createTwilioHttpClient } from '../sdks/create-twilio-http-client.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import type { VendorDefinition } from '../vendors/vendor-definition.js';
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

  it('should redact a Basic credential echoed without its padding or with it escaped in lower case', async () => {
    const server = await startRecordingUpstream((request) => {
      const auth = String(request.headers.authorization);
      const lower = encodeURIComponent(auth).replace(/%[0-9A-F]{2}/g, (code) => code.toLowerCase());
      return { status: 401, body: { unpadded: auth.replace(/=+$/, ''), query: `Authorization=${lower}` } };
    });
    const vault = createVault({
      secrets: { twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
      upstreams: { twilio: server.url },
    });
    try {
      const key = await vault.issueKey({ vendor: 'twilio', capUsd: 5 });
      const answer = await vault.createFetch({ vaultKey: key.vaultKey })(
        `https://api.twilio.com/2010-04-01/Accounts/${TWILIO_SID}/Messages/SM1.json`,
      );
      const text = await answer.text();
      const encoded = [...text.matchAll(/QUMx[A-Za-z0-9+/]+/g)].map(([match]) =>
        Buffer.from(match, 'base64').toString(),
      );
      expect(encoded.filter((decoded) => decoded.includes(TWILIO_TOKEN))).toEqual([]);
      expect(text.match(/\[redacted by keybrake\]/g)).toHaveLength(2);
    } finally {
      await vault.close();
      await server.close();
    }
  });

  it('should redact a secret a custom vendor sends in another header, and a compressed echo', async () => {
    const KEY = 'custom_live_key_0123456789abcdef';
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const echo = Buffer.from(
          JSON.stringify({ error: `invalid x-api-key ${String(request.headers['x-api-key'])}` }),
        );
        const twice = zlib.gzipSync(zlib.gzipSync(echo));
        const [encoding, bytes] =
          request.url === '/zstd'
            ? ['zstd', zlib.zstdCompressSync(echo)]
            : request.url === '/compress'
              ? ['compress', echo]
              : request.url === '/gzip-twice'
                ? ['gzip, gzip', twice]
                : request.url === '/gzip-twice-labelled-once'
                  ? ['gzip', twice]
                  : request.url === '/compress-deflated'
                    ? ['compress', zlib.deflateSync(echo)]
                    : request.url === '/encoding-echo'
                      ? [String(request.headers['x-api-key']), echo]
                      : [undefined, echo];
        response.writeHead(401, {
          'content-type': 'application/json',
          ...(encoding && { 'content-encoding': encoding }),
        });
        response.end(bytes);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const base = createBearerVendor({
      name: 'acme',
      baseUrl: url,
      costModel: createFixedPriceCostModel({ prices: { 'GET /**': 0 } }),
    });
    const vault = createVault({
      vendors: {
        acme: {
          ...base,
          authorize(request, secret: string) {
            request.headers['x-api-key'] = secret;
            return { path: request.path };
          },
        },
      },
      secrets: { acme: KEY },
    });
    try {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      expect(await (await send(`${url}/plain`)).text()).toBe('{"error":"invalid x-api-key [redacted by keybrake]"}');
      expect(await (await send(`${url}/zstd`)).text()).toBe('{"error":"invalid x-api-key [redacted by keybrake]"}');
      // An encoding Keybrake cannot decode cannot be edited, nor priced: the body holding the
      // secret is dropped, and the caller is told the vendor's answer could not be read.
      const undecodable = await send(`${url}/compress`);
      expect(undecodable.status).toBe(502);
      expect(undecodable.headers.get('x-keybrake-code')).toBe('KEYBRAKE_UPSTREAM_ERROR');
      const told = await undecodable.text();
      expect(told).toMatch(/answered with a body in an encoding Keybrake cannot read \(Content-Encoding: compress\)/);
      expect(told).not.toContain(KEY);
      // Compressed twice, as HTTP allows: both layers undone, then redacted.
      const twice = await send(`${url}/gzip-twice`);
      expect(twice.headers.get('content-encoding')).toBeNull();
      expect(await twice.text()).toBe('{"error":"invalid x-api-key [redacted by keybrake]"}');
      // Compressed twice but labelled once: what is left after one layer is still compressed, and
      // the secret is in it.
      const hidden = await send(`${url}/gzip-twice-labelled-once`);
      expect(Buffer.from(await hidden.arrayBuffer()).byteLength).toBe(0);
      // An encoding Keybrake cannot undo hides whatever is in it: the body is not passed on.
      // A coding named by the credential (a gateway echoing what it got) is not named back.
      const named = await (await send(`${url}/encoding-echo`)).text();
      expect(named).toMatch(/Content-Encoding: not a registered coding/);
      expect(named).not.toContain(KEY);
      const opaque = await send(`${url}/compress-deflated`);
      expect(opaque.status).toBe(502);
      expect(opaque.headers.get('content-encoding')).toBeNull();
      expect(await opaque.text()).not.toContain(KEY);
    } finally {
      await vault.close();
      server.close();
    }
  });

  it('should audit a base64 request id', async () => {
    const id = 'u3sbXAmPLE9dq0GgG8nQ4rrm0v7H3HyqJYOdX3pvmd4x-ifyHjjY3A==';
    const plain = await startRecordingUpstream(() => ({ headers: { 'request-id': id } }));
    const vault = createVault({ secrets: { stripe: STRIPE_SECRET }, upstreams: { stripe: plain.url } });
    try {
      const key = await vault.issueKey({ vendor: 'stripe', capUsd: 5 });
      await vault.createFetch({ vaultKey: key.vaultKey })('https://api.stripe.com/v1/customers/cus_1');
      expect((await vault.queryAudit({ keyId: key.id })).records[0]?.vendorRequestId).toBe(id);
    } finally {
      await vault.close();
      await plain.close();
    }
  });

  describe('with a custom vendor', () => {
    let server: Awaited<ReturnType<typeof startRecordingUpstream>>;
    beforeAll(async () => {
      server = await startRecordingUpstream((request) => ({
        status: request.url.startsWith('/echo') ? 401 : 200,
        body: request.url.startsWith('/echo')
          ? { error: `bad credential: ${String(request.headers.authorization)}` }
          : { url: 'https://acme-support.helpdesk.example/tickets/1', email: 'agent@acme-support.example' },
      }));
    });
    afterAll(() => server.close());
    const vendor = <S>(authorize: VendorDefinition<S>['authorize']): VendorDefinition<S> => ({
      ...createBearerVendor({
        name: 'custom',
        baseUrl: server.url,
        costModel: createFixedPriceCostModel({ prices: { 'GET /**': 0 } }),
      }),
      parseSecret: (secret) => secret as S,
      authorize,
    });

    it('should leave the fields of its configuration that are not sent as a credential alone', async () => {
      type Secret = { subdomain: string; email: string; apiToken: string };
      const vault = createVault({
        vendors: {
          custom: vendor<Secret>((request, secret) => {
            request.headers.authorization = `Basic ${Buffer.from(`${secret.email}/token:${secret.apiToken}`).toString('base64')}`;
            return { path: request.path };
          }),
        },
        secrets: {
          custom: {
            subdomain: 'acme-support',
            email: 'agent@acme-support.example',
            apiToken: 'zdTokenAbcdef0123456789',
          },
        },
      });
      try {
        const key = await vault.issueKey({ vendor: 'custom', capUsd: 5 });
        const answer = await vault.createFetch({ vaultKey: key.vaultKey })(`${server.url}/tickets/1`);
        expect(await answer.json()).toEqual({
          url: 'https://acme-support.helpdesk.example/tickets/1',
          email: 'agent@acme-support.example',
        });
      } finally {
        await vault.close();
      }
    });

    it('should redact a credential made per call, and one first sent after a call without any', async () => {
      let calls = 0;
      const vault = createVault({
        vendors: {
          custom: vendor<string>((request, secret) => {
            calls += 1;
            if (!request.path.startsWith('/public'))
              request.headers.authorization = `Bearer tok_${createHmac('sha256', secret).update(String(calls)).digest('base64url')}`;
            return { path: request.path };
          }),
        },
        secrets: { custom: 'signing_secret_0123456789abcdef' },
      });
      try {
        const key = await vault.issueKey({ vendor: 'custom', capUsd: 5 });
        const send = vault.createFetch({ vaultKey: key.vaultKey });
        await (await send(`${server.url}/public/status`)).text();
        for (const path of ['/echo/1', '/echo/2']) {
          const text = await (await send(`${server.url}${path}`)).text();
          expect(text).toBe('{"error":"bad credential: Bearer [redacted by keybrake]"}');
        }
      } finally {
        await vault.close();
      }
    });

    it('should redact a secret put in the path or a cookie, and leave an identifying header value alone', async () => {
      const TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
      const echo = await startRecordingUpstream((request) => ({
        status: request.url.startsWith('/bot') ? 404 : 200,
        body: request.url.startsWith('/bot')
          ? { error: `Cannot GET ${request.url}`, cookie: `got ${String(request.headers.cookie)}` }
          : { email: 'ops@acme-corp.example', key: String(request.headers['x-auth-key']) },
      }));
      type Secret = { email: string; token: string };
      const vault = createVault({
        vendors: {
          custom: {
            ...vendor<Secret>((request, secret) => {
              request.headers['x-auth-email'] = secret.email;
              if (request.path.startsWith('/user')) {
                request.headers['x-auth-key'] = secret.token;
                return { path: request.path };
              }
              request.headers.cookie = `session=${secret.token}`;
              return { path: `/bot${secret.token}${request.path}` };
            }),
            baseUrl: echo.url,
          },
        },
        secrets: { custom: { email: 'ops@acme-corp.example', token: TOKEN } },
      });
      try {
        const key = await vault.issueKey({ vendor: 'custom', capUsd: 5 });
        const send = vault.createFetch({ vaultKey: key.vaultKey });
        const text = await (await send(`${echo.url}/getMe`)).text();
        expect(echo.received.at(-1)?.url).toBe(`/bot${TOKEN}/getMe`);
        expect(text).toBe(
          '{"error":"Cannot GET /bot[redacted by keybrake]/getMe","cookie":"got [redacted by keybrake]"}',
        );
        expect(await (await send(`${echo.url}/user`)).json()).toEqual({
          email: 'ops@acme-corp.example',
          key: '[redacted by keybrake]',
        });
      } finally {
        await vault.close();
        await echo.close();
      }
    });

    it('should redact a secret escaped in lower case, at the end of a longer token, or in an identifier-named header', async () => {
      const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+abc';
      const echo = await startRecordingUpstream((request) => {
        const auth = String(request.headers.authorization);
        return {
          status: 401,
          body: {
            lower: encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (code) => code.toLowerCase()),
            last: auth.split(' ').at(-1),
            session: String(request.headers['x-session-id']),
          },
        };
      });
      const vault = createVault({
        vendors: {
          custom: {
            ...vendor<string>((request, secret) => {
              request.headers.authorization = `Bearer acct_42 ${secret}`;
              request.headers['x-session-id'] = secret;
              return { path: request.path };
            }),
            baseUrl: echo.url,
          },
        },
        secrets: { custom: SECRET },
      });
      try {
        const key = await vault.issueKey({ vendor: 'custom', capUsd: 5 });
        const answer = await vault.createFetch({ vaultKey: key.vaultKey })(`${echo.url}/x`);
        expect(await answer.json()).toEqual({
          lower: '[redacted by keybrake]',
          last: '[redacted by keybrake]',
          session: '[redacted by keybrake]',
        });
      } finally {
        await vault.close();
        await echo.close();
      }
    });
  });
});
