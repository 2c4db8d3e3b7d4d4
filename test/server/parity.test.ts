// The two ways to use Keybrake, side by side: the capped fetch (embedded) and the proxy must refuse,
// send and word the same calls alike, so an agent behaves the same in either mode.
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTwilioHttpClient, createVault, type Vault } from '@keybrake/core';
import { createProxyLogger, createProxyServer } from '@keybrake/server';
import { createFakeStripe } from '@keybrake/testkit';
import Stripe from 'stripe';
import twilio from 'twilio';
import { afterEach, describe, expect, it } from 'vitest';

const STRIPE_SECRET = 'sk_test_51ParitySecret0123456789abcdef';
const TWILIO_SID = `AC${'3'.repeat(32)}`;
const TWILIO_TOKEN = 'parity_twilio_auth_token_0123456789';
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startProxy(vault: Vault): Promise<string> {
  const proxy = createProxyServer({
    vault,
    adminToken: 'admin-token-parity-0123456789abcdef',
    logger: createProxyLogger({ destination: { write: () => {} } }),
  });
  const url = await proxy.listen({ port: 0 });
  cleanups.push(() => proxy.close());
  return url;
}

/** A raw HTTP request (a GET with a body, which `fetch` would refuse to send). */
function send(url: string, method: string, path: string, headers: Record<string, string>, body: string) {
  const target = new URL(url);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method,
        path,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

describe('the capped fetch and the proxy, side by side', () => {
  it('should refuse a GET or HEAD with a body in both modes, and send nothing', async () => {
    const fake = await createFakeStripe({ secret: STRIPE_SECRET });
    cleanups.push(() => fake.close());
    // Closed by the proxy's close.
    const vault = createVault({ secrets: { stripe: STRIPE_SECRET }, upstreams: { stripe: fake.url } });
    const url = await startProxy(vault);
    const key = await vault.issueKey({ vendor: 'stripe', capUsd: 10, label: 'parity' });
    const headers = { authorization: `Bearer ${key.vaultKey}`, 'content-type': 'application/x-www-form-urlencoded' };
    const embedded = await vault
      .createFetch()('https://api.stripe.com/v1/customers', { method: 'GET', headers, body: 'email=a%40b.c' })
      .catch((error: unknown) => error);
    expect(embedded).toBeInstanceOf(TypeError);
    for (const method of ['GET', 'HEAD']) {
      const proxied = await send(url, method, '/v1/customers', headers, 'email=a%40b.c');
      expect(proxied.status).toBe(400);
    }
    expect((await send(url, 'GET', '/v1/customers', headers, '')).status).toBe(200);
    expect(fake.requests.map((request) => [request.method, request.body])).toEqual([['GET', '']]);
    const { records } = await vault.queryAudit({ keyId: key.id });
    expect(records.filter((record) => record.decision === 'denied')).toHaveLength(2);
  });

  it('should word a body over the limit alike in both modes (the SDK error the model reads)', async () => {
    const fake = await createFakeStripe({ secret: STRIPE_SECRET });
    cleanups.push(() => fake.close());
    // Closed by the proxy's close.
    const vault = createVault({ secrets: { stripe: STRIPE_SECRET }, upstreams: { stripe: fake.url } });
    const proxyUrl = new URL(await startProxy(vault));
    const key = await vault.issueKey({ vendor: 'stripe', capUsd: 10, fallbackEstimateUsd: 1, label: 'parity' });
    const create = (stripe: Stripe) =>
      stripe.customers.create({ description: 'x'.repeat(1_200_000) }).then(
        () => new Error('the call was sent'),
        (error: unknown) => error as Error,
      );
    const embedded = await create(
      new Stripe(key.vaultKey, { httpClient: Stripe.createFetchHttpClient(vault.createFetch()) }),
    );
    const proxied = await create(
      new Stripe(key.vaultKey, { host: proxyUrl.hostname, port: proxyUrl.port, protocol: 'http' }),
    );
    expect(embedded).toMatchObject({ statusCode: 413, code: 'KEYBRAKE_INVALID_REQUEST' });
    expect(proxied).toMatchObject({ statusCode: 413, code: 'KEYBRAKE_INVALID_REQUEST' });
    expect(proxied.message).toBe(embedded.message);
    expect(proxied.message).toMatch(/the request body is \d+ bytes, over the 1048576-byte limit/);
    expect(fake.requests).toHaveLength(0);
  });

  it('should leave a vendor redirect to the Twilio SDK in both modes, never sending the message twice', async () => {
    const received: string[] = [];
    const upstream = createServer((request, response) => {
      received.push(`${request.method} ${request.url}`);
      request.resume();
      request.on('end', () => {
        if (received.length % 2 === 1) {
          response.writeHead(307, { location: request.url ?? '/' });
          response.end();
          return;
        }
        response.writeHead(201, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ sid: `SM${'0'.repeat(32)}`, status: 'queued', price: null, num_segments: '1' }));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => upstream.close(resolve)));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const run = async (mode: 'embedded' | 'proxy') => {
      received.length = 0;
      const vault = createVault({
        secrets: { twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
        upstreams: { twilio: upstreamUrl },
      });
      // The proxy's close closes its vault.
      if (mode === 'embedded') cleanups.push(() => vault.close());
      const key = await vault.issueKey({ vendor: 'twilio', capUsd: 1, label: 'sms' });
      const httpClient =
        mode === 'embedded'
          ? createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() })
          : createTwilioHttpClient(twilio.RequestClient, { baseUrl: await startProxy(vault) });
      const client = twilio('AC00000000000000000000000000000000', key.vaultKey, { httpClient });
      const outcome = await client.messages.create({ to: '+15005550006', from: '+15005550001', body: 'Hello' }).then(
        () => 'sent',
        (error: { status?: number }) => `error ${error.status}`,
      );
      const status = await vault.getKeyStatus(key.id);
      return { outcome, atTheVendor: received.length, calls: status.calls, spentMicros: status.spentMicros };
    };
    const embedded = await run('embedded');
    expect(embedded).toEqual({ outcome: 'error 307', atTheVendor: 1, calls: 1, spentMicros: 0 });
    expect(await run('proxy')).toEqual(embedded);
  });
});
