import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { inspect } from 'node:util';
import { gzipSync } from 'node:zlib';
import Keyv from 'keyv';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CostModel } from '../costs/cost-model.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { runWithActor } from '../fetch/actor-context.js';
import { createMemoryLedger } from '../ledger/create-memory-ledger.js';
import { EXPIRED_KEY_RETENTION_MS, type ReserveRequest } from '../ledger/ledger.js';
import { createKeyvKeyStore } from '../storage/create-keyv-key-store.js';
import { createMemoryKeyStore } from '../storage/create-memory-key-store.js';
import type { KeyStore } from '../storage/key-store.js';
import { createAcmeVault, ACME_SECRET as SECRET } from '../test-utils/create-acme-vault.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { createVault, type Vault } from './create-vault.js';

describe('createVault', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let now = Date.UTC(2026, 10, 26, 12);
  const vaults: Vault[] = [];
  const makeVault = () => {
    const vault = createAcmeVault({
      baseUrl: 'https://api.acme.invalid',
      prices: { 'POST /v1/charges': '3.00', 'GET /**': 0 },
      honorsIdempotencyKey: true,
      upstreams: { acme: upstream.url },
      now: () => now,
    });
    vaults.push(vault);
    return vault;
  };

  /** One call through `vault.handle` with a vault key: a POST to the acme charges endpoint unless told otherwise. */
  const callWith = (vault: Vault, vaultKey: string, method = 'POST', path = '/v1/charges') =>
    vault.handle({ vaultKey, method, path, headers: {} });

  /** A vault fronting one custom vendor priced by `costModel`, on the recording upstream unless told otherwise. */
  const customVault = (costModel: CostModel, baseUrl = upstream.url, keyStore?: KeyStore) => {
    const vault = createVault({
      vendors: { custom: createBearerVendor({ name: 'custom', baseUrl, costModel }) },
      secrets: { custom: 'sk_custom_secret' },
      ...(keyStore ? { keyStore } : {}),
    });
    vaults.push(vault);
    return vault;
  };

  beforeAll(async () => {
    upstream = await startRecordingUpstream((request) => ({
      body: request.url.includes('charges') ? { id: `ch_${Math.random()}` } : { ok: true },
    }));
  });
  afterEach(async () => {
    upstream.received.length = 0;
    now = Date.UTC(2026, 10, 26, 12);
    await Promise.all(vaults.splice(0).map((vault) => vault.close()));
  });
  afterAll(() => upstream.close());

  const team = async (vault: Vault) => {
    const session = await vault.issueKey({ capUsd: 200, expiresIn: '1h', label: 'team/sess_1' });
    const billing = await vault.issueKey({
      parentId: session.id,
      vendor: 'acme',
      capUsd: 150,
      label: 'team/sess_1/billing',
    });
    const notify = await vault.issueKey({
      parentId: session.id,
      vendor: 'acme',
      capUsd: 50,
      label: 'team/sess_1/notify',
    });
    return { session, billing, notify };
  };

  describe('when two members share a session cap under concurrency', () => {
    it('should never let the upstream receive more than any cap allows, and deny the rest with 429', async () => {
      const vault = makeVault();
      const { session, billing, notify } = await team(vault);
      const fetches = [
        vault.createFetch({ vaultKey: billing.vaultKey }),
        vault.createFetch({ vaultKey: notify.vaultKey }),
      ];
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, index) =>
          (fetches[index % 2] as typeof fetch)('https://ignored.example/v1/charges', {
            method: 'POST',
            body: 'amount=300',
          }),
        ),
      );
      const allowed = responses.filter((response) => response.status === 200).length;
      const denied = responses.filter((response) => response.status === 429);
      expect(allowed + denied.length).toBe(200);
      expect(upstream.received).toHaveLength(allowed);
      expect(allowed * 3).toBeLessThanOrEqual(200);
      expect(allowed).toBe(66); // $150 / $3 = 50 billing + $50 / $3 = 16 notify
      const body = (await denied[0]?.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('KEYBRAKE_CAP_EXCEEDED');
      expect(denied[0]?.headers.get('x-keybrake-code')).toBe('KEYBRAKE_CAP_EXCEEDED');

      const sessionStatus = await vault.getKeyStatus(session.id);
      expect(sessionStatus.spentMicros).toBe(66 * 3_000_000);
      expect((await vault.getKeyStatus(billing.id)).spentUsd).toBe(150);
      expect((await vault.getKeyStatus(notify.id)).spentUsd).toBe(48);
      const audit = await vault.queryAudit({ rootKeyId: session.id, limit: 1000 });
      expect(audit.records).toHaveLength(200);
      expect(
        audit.records.filter((record) => record.decision === 'denied' && record.reason === 'KEYBRAKE_CAP_EXCEEDED'),
      ).toHaveLength(134);
      expect(audit.totals.find((total) => total.keyId === billing.id)).toMatchObject({
        allowed: 50,
        spentMicros: 150_000_000,
      });
    });
  });

  describe('when keys are revoked or expire', () => {
    it('should deny the members on their very next call after the session key is revoked', async () => {
      const vault = makeVault();
      const { session, billing, notify } = await team(vault);
      const billingFetch = vault.createFetch({ vaultKey: billing.vaultKey });
      expect((await billingFetch('http://x/v1/customers/cus_1')).status).toBe(200);
      expect((await vault.revokeKey(session.id)).revoked.sort()).toEqual([session.id, billing.id, notify.id].sort());
      const response = await billingFetch('http://x/v1/customers/cus_1');
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('KEYBRAKE_KEY_REVOKED');
      expect(
        (await vault.createFetch({ vaultKey: notify.vaultKey })('http://x/v1/charges', { method: 'POST' })).status,
      ).toBe(401);
      expect(upstream.received).toHaveLength(1);
      expect((await vault.getKeyStatus(notify.id)).revoked).toBe(true);
      const denied = await vault.queryAudit({ rootKeyId: session.id, decision: 'denied' });
      expect(denied.records.map((record) => [record.keyId, record.reason])).toEqual([
        [notify.id, 'KEYBRAKE_KEY_REVOKED'],
        [billing.id, 'KEYBRAKE_KEY_REVOKED'],
      ]);
    });

    it('should refuse an expired key', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10, expiresIn: '30m' });
      now += 31 * 60_000;
      const response = await vault.createFetch({ vaultKey: key.vaultKey })('http://x/v1/charges', { method: 'POST' });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('KEYBRAKE_KEY_EXPIRED');
      expect(upstream.received).toHaveLength(0);
    });

    it.each(['revoked', 'expired'] as const)(
      'should not send a call whose key was %s while its estimate read the vendor',
      async (change) => {
        const vault = createVault({
          vendors: {
            custom: createBearerVendor({
              name: 'custom',
              baseUrl: upstream.url,
              costModel: {
                // As Stripe's estimate of a confirmation reads the PaymentIntent first: the read may wait.
                async estimate(_request, context) {
                  await context.lookup('/v1/charges/ch_1');
                  if (change === 'revoked') await vault.revokeKey(key.id);
                  else now += 31 * 60_000;
                  return { kind: 'known', micros: 3_000_000 };
                },
                settle: () => ({ kind: 'known', micros: 3_000_000 }),
              },
            }),
          },
          secrets: { custom: 'sk_custom_secret' },
          now: () => now,
        });
        vaults.push(vault);
        const key = await vault.issueKey({ vendor: 'custom', capUsd: 10, expiresIn: '30m' });
        const response = await vault.handle({
          vaultKey: key.vaultKey,
          method: 'POST',
          path: '/v1/charges',
          headers: {},
        });
        expect(response.keybrake.error?.code).toBe(
          change === 'revoked' ? 'KEYBRAKE_KEY_REVOKED' : 'KEYBRAKE_KEY_EXPIRED',
        );
        expect(upstream.received.map((request) => request.method)).toEqual(['GET']);
        expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(0);
      },
    );

    it('should not send a call whose key was revoked while a custom estimate waited on its own price service', async () => {
      let revoke = async () => {};
      const vault = customVault({
        async estimate() {
          // No lookup: the model waits on something of its own, however briefly.
          await revoke();
          return { kind: 'known', micros: 3_000_000 };
        },
        settle: () => ({ kind: 'known', micros: 3_000_000 }),
      });
      const key = await vault.issueKey({ vendor: 'custom', capUsd: 10 });
      revoke = async () => void (await vault.revokeKey(key.id));
      const response = await vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
      expect(response.keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
      expect(upstream.received).toHaveLength(0);
    });

    it('should forget a key and its spend once it has been expired for longer than the retention, not before', async () => {
      const inner = createMemoryLedger();
      const reserved: ReserveRequest[] = [];
      const vault = createAcmeVault({
        baseUrl: 'https://api.acme.invalid',
        prices: { 'POST /v1/charges': '3.00' },
        upstreams: { acme: upstream.url },
        now: () => now,
        ledger: {
          ...inner,
          reserve: (request) => {
            reserved.push(request);
            return inner.reserve(request);
          },
        },
      });
      vaults.push(vault);
      const session = await vault.issueKey({ capUsd: 100, expiresIn: '30d' });
      const member = await vault.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 10, expiresIn: '30m' });
      const memberFetch = vault.createFetch({ vaultKey: member.vaultKey });
      expect((await memberFetch('http://x/v1/charges', { method: 'POST' })).status).toBe(200);
      // The ledger is told each key's expiry, so it can forget the totals too.
      expect(reserved[0]?.chain.map((limit) => limit.expiresAt)).toEqual([
        now + 30 * 60_000,
        now + 30 * 24 * 3_600_000,
      ]);
      now += 30 * 60_000 + EXPIRED_KEY_RETENTION_MS - 1;
      await vault.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 1, expiresIn: '1m' });
      expect(await vault.getKeyStatus(member.id)).toMatchObject({ expired: true, spentUsd: 3 });
      // The stores check at most once a minute and once an hour.
      now += 3_600_000;
      await vault.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 1, expiresIn: '1m' });
      await expect(vault.getKeyStatus(member.id)).rejects.toThrow(/not found|unknown|does not exist/i);
      expect(await vault.getKeyStatus(session.id)).toMatchObject({ spentUsd: 3 });
      const response = await memberFetch('http://x/v1/charges', { method: 'POST' });
      expect(response.status).toBe(401);
      expect(upstream.received).toHaveLength(1);
    });

    // An operator holding only a leaked vault key can show and revoke it; no error quotes a vault key.
    it('should show, issue under and revoke a key named by its vault key, and never echo one in an error', async () => {
      const vault = makeVault();
      const { session, billing, notify } = await team(vault);
      expect((await vault.getKeyStatus(billing.vaultKey)).id).toBe(billing.id);
      const child = await vault.issueKey({ parentId: billing.vaultKey, capUsd: 1 });
      expect(child.parentId).toBe(billing.id);
      expect((await vault.revokeKey(session.vaultKey)).revoked.sort()).toEqual(
        [session.id, billing.id, notify.id, child.id].sort(),
      );
      await expect(vault.issueKey({ parentId: billing.vaultKey, capUsd: 1 })).rejects.toThrow(
        `Cannot issue a key under ${billing.id}: it was revoked. Issue it under a live key.`,
      );
      // A key-shaped string whose checksum fails names no key, and is not echoed either.
      const forged = `${billing.vaultKey.slice(0, -1)}${billing.vaultKey.endsWith('A') ? 'B' : 'A'}`;
      const messages: string[] = [];
      for (const run of [
        () => vault.getKeyStatus(forged),
        () => vault.revokeKey(forged),
        () => vault.issueKey({ parentId: forged, capUsd: 1 }),
      ]) {
        messages.push(await run().then(String, (error: unknown) => (error as Error).message));
      }
      expect(messages).toEqual([
        'Key [redacted vault key] does not exist.',
        'Key [redacted vault key] does not exist.',
        'Parent key [redacted vault key] does not exist.',
      ]);
    });

    it('should refuse malformed and unknown keys', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = (vaultKey: string) => vault.createFetch({ vaultKey })('http://x/v1/charges', { method: 'POST' });
      const typo = `${key.vaultKey.slice(0, -3)}zzz`;
      for (const bad of [typo, 'kb_test_short', SECRET]) {
        const response = await send(bad);
        expect(response.status).toBe(401);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('KEYBRAKE_INVALID_KEY');
      }
      const otherVault = makeVault();
      const foreign = await otherVault.issueKey({ vendor: 'acme', capUsd: 1 });
      expect((await send(foreign.vaultKey)).status).toBe(401);
      expect(upstream.received).toHaveLength(0);
    });
  });

  describe('when the path is outside the allow-list', () => {
    it.each([
      '/v1/refunds',
      '/v1/customers/../refunds',
      '/v1/customers/%2e%2e/refunds',
      '/v1/customers%2F..%2Frefunds',
      '/v1/customers/cus_1%2Fx',
      '/v1/customers/%252e%252e/refunds',
      '/../v1/customers/cus_1',
    ])('should answer 403 for %s and never reach the upstream', async (path) => {
      const vault = makeVault();
      const key = await vault.issueKey({
        vendor: 'acme',
        capUsd: 10,
        allowedEndpoints: ['GET /v1/customers/*', 'POST /v1/charges'],
      });
      const response = await vault.handle({ vaultKey: key.vaultKey, method: 'GET', path, headers: {} });
      expect(response.status).toBe(403);
      expect(response.keybrake.error?.code).toBe('KEYBRAKE_ENDPOINT_NOT_ALLOWED');
      expect(upstream.received).toHaveLength(0);
      const audit = await vault.queryAudit({ keyId: key.id });
      expect(audit.records[0]).toMatchObject({ decision: 'denied', reason: 'KEYBRAKE_ENDPOINT_NOT_ALLOWED' });
    });

    it('should allow what the allow-list names', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10, allowedEndpoints: ['GET /v1/customers/*'] });
      const response = await vault.handle({
        vaultKey: key.vaultKey,
        method: 'GET',
        path: '/v1/./customers/cus_1?expand[]=x',
        headers: {},
      });
      expect(response.status).toBe(200);
      expect(upstream.received[0]?.url).toBe('/v1/customers/cus_1?expand[]=x');
    });
  });

  describe('when a request is retried with the same Idempotency-Key', () => {
    /** `POST /v1/charges` under an `Idempotency-Key`. */
    const chargeWithKey = (vault: Vault, vaultKey: string, idempotencyKey: string) =>
      vault.handle({
        vaultKey,
        method: 'POST',
        path: '/v1/charges',
        headers: { 'idempotency-key': idempotencyKey },
        body: 'amount=1',
      });

    it('should count it once', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = () => chargeWithKey(vault, key.vaultKey, 'charge-42');
      expect((await send()).status).toBe(200);
      expect((await send()).status).toBe(200);
      const status = await vault.getKeyStatus(key.id);
      expect(status).toMatchObject({ spentUsd: 3, calls: 1 });
      const { records } = await vault.queryAudit({ keyId: key.id });
      expect(records.map((record) => record.outcome).sort()).toEqual(['replayed', 'settled']);
    });

    it('should count a retry as new when its Connection header keeps the Idempotency-Key from the vendor', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      expect((await chargeWithKey(vault, key.vaultKey, 'charge-42')).status).toBe(200);
      // The vendor never sees the key (the Connection header names it), so it charges again: counted.
      const retry = await vault.handle({
        vaultKey: key.vaultKey,
        method: 'POST',
        path: '/v1/charges',
        headers: { 'idempotency-key': 'charge-42', connection: 'close, Idempotency-Key' },
        body: 'amount=1',
      });
      expect(retry.status).toBe(200);
      expect(upstream.received.map((request) => request.headers['idempotency-key'])).toEqual(['charge-42', undefined]);
      expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentUsd: 6, calls: 2 });
    });

    it('should hold a retry back with a retryable 409 while its original is in flight, then replay it', async () => {
      const slow = await startRecordingUpstream(() => ({ delayMs: 200, body: { id: 'ch_slow' } }));
      const vault = createAcmeVault({ baseUrl: slow.url, prices: { 'POST /**': 3 }, honorsIdempotencyKey: true });
      vaults.push(vault);
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = () => chargeWithKey(vault, key.vaultKey, 'charge-in-flight');
      const original = send();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const early = await send();
      expect(early.status).toBe(409);
      expect(early.keybrake.error).toMatchObject({ code: 'KEYBRAKE_INVALID_REQUEST', retryable: true });
      expect(slow.received).toHaveLength(1);
      expect((await original).status).toBe(200);
      expect((await send()).status).toBe(200);
      await slow.close();
      expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentUsd: 3, calls: 1 });
      const { records } = await vault.queryAudit({ keyId: key.id });
      expect(records.map((record) => record.outcome ?? record.reason).sort()).toEqual([
        'KEYBRAKE_INVALID_REQUEST',
        'replayed',
        'settled',
      ]);
    });

    it('should count every call for a vendor that does not replay idempotency keys', async () => {
      const vault = createAcmeVault({ baseUrl: upstream.url, prices: { 'POST /**': 3 } });
      vaults.push(vault);
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      for (let call = 0; call < 2; call++) {
        await vault.handle({
          vaultKey: key.vaultKey,
          method: 'POST',
          path: '/v1/charges',
          headers: { 'idempotency-key': 'same' },
        });
      }
      expect(upstream.received).toHaveLength(2);
      expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentUsd: 6, calls: 2 });
    });
  });

  describe('when the vendor answers an error', () => {
    /** Charges $5 once through a vault fronting `baseUrl`; returns the response and the key's status. */
    const chargeOnce = async (baseUrl: string, options: { upstreamTimeout?: number; dispatcher?: Dispatcher } = {}) => {
      const vault = createAcmeVault({ baseUrl, prices: { 'POST /**': 5 }, ...options });
      try {
        const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
        const response = await vault.handle({
          vaultKey: key.vaultKey,
          method: 'POST',
          path: '/v1/charges',
          headers: {},
        });
        return { response, status: await vault.getKeyStatus(key.id), audit: await vault.queryAudit({ keyId: key.id }) };
      } finally {
        await vault.close();
      }
    };

    it('should settle a call that moved no money to 0', async () => {
      const failing = await startRecordingUpstream(() => ({
        status: 402,
        body: { error: { message: 'card declined' } },
      }));
      const { response, status } = await chargeOnce(failing.url).finally(() => failing.close());
      expect(response.status).toBe(402);
      expect(status).toMatchObject({ spentUsd: 0, reservedUsd: 0, calls: 1 });
    });

    it('should keep the estimate as spent when the outcome is unknown (timeout)', async () => {
      const slow = await startRecordingUpstream(() => ({ delayMs: 3000 }));
      const { response, status, audit } = await chargeOnce(slow.url, { upstreamTimeout: 1 });
      expect(response.status).toBe(504);
      expect(response.keybrake.error?.code).toBe('KEYBRAKE_UPSTREAM_ERROR');
      expect(response.keybrake.error?.message).toMatch(
        /did not answer within upstreamTimeout \(1000 ms, for the whole answer\)/,
      );
      expect(slow.received).toHaveLength(1);
      await slow.close();
      expect(status).toMatchObject({ spentUsd: 5, reservedUsd: 0 });
      expect(audit.records[0]).toMatchObject({
        outcome: 'unknown',
        actualMicros: 5_000_000,
        note: 'outcome unknown: the acme API did not answer within upstreamTimeout (1000 ms, for the whole answer); the estimate stays counted',
      });
    });

    it('should cut off a vendor that keeps sending informational answers (103) at upstreamTimeout, and keep the estimate', async () => {
      // Each 1xx starts undici's headers timeout again: only the vault's own deadline ends the call.
      const hinting = createServer((req) => {
        const timer = setInterval(
          () => req.socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n'),
          200,
        );
        req.socket.once('close', () => clearInterval(timer));
      });
      await new Promise<void>((resolve) => hinting.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(hinting.address() as AddressInfo).port}`;
      try {
        const { response, status, audit } = await chargeOnce(url, { upstreamTimeout: 1 });
        expect(response.status).toBe(504);
        expect(response.keybrake.error?.message).toMatch(/did not answer within upstreamTimeout \(1000 ms/);
        expect(status).toMatchObject({ spentUsd: 5, reservedUsd: 0 });
        expect(audit.records[0]).toMatchObject({ outcome: 'unknown', actualMicros: 5_000_000 });
      } finally {
        hinting.closeAllConnections();
        await new Promise((resolve) => hinting.close(resolve));
      }
    });

    it.each(['EHOSTUNREACH', 'ENETUNREACH'])(
      'should keep the estimate when a connection that carried the call fails with %s (not a failed connect)',
      async (code) => {
        const sockets: Socket[] = [];
        const connector = buildConnector({});
        const dispatcher = new Agent({
          connect: (options, callback) =>
            connector(options, (error, socket) => {
              if (socket) sockets.push(socket as Socket);
              (callback as (error: Error | null, socket: unknown) => void)(error, socket);
            }),
        });
        // The vendor has the whole request (money may move), then the client's socket dies.
        const dying = await startRecordingUpstream(() => {
          for (const socket of sockets)
            socket.destroy(Object.assign(new Error(`read ${code}`), { code, syscall: 'read' }));
          return {};
        });
        try {
          const { response, status } = await chargeOnce(dying.url, { dispatcher });
          expect(dying.received).toHaveLength(1);
          expect(response.status).toBe(502);
          expect(response.keybrake.error?.message).toMatch(/the outcome of this call is unknown/);
          expect(status).toMatchObject({ spentUsd: 5, reservedUsd: 0 });
        } finally {
          await Promise.all([dying.close(), dispatcher.close()]);
        }
      },
    );

    it('should audit a vendor error it keeps counted (5xx) as an unknown outcome', async () => {
      const failing = await startRecordingUpstream(() => ({ status: 500, body: { error: { type: 'api_error' } } }));
      const { response, status, audit } = await chargeOnce(failing.url).finally(() => failing.close());
      expect(response.status).toBe(500);
      expect(status).toMatchObject({ spentUsd: 5, reservedUsd: 0 });
      expect(audit.records[0]).toMatchObject({ outcome: 'unknown', actualMicros: 5_000_000, vendorStatus: 500 });
    });

    it('should answer 502 for an answer in an encoding it cannot read, and keep the estimate', async () => {
      const garbled = await startRecordingUpstream(() => ({ headers: { 'content-encoding': 'gzip' } }));
      const { response, status, audit } = await chargeOnce(garbled.url).finally(() => garbled.close());
      expect(response.status).toBe(502);
      expect(response.keybrake.error?.message).toMatch(
        /The acme API answered with a body in an encoding Keybrake cannot read \(Content-Encoding: gzip\); the outcome of this call is unknown/,
      );
      expect(status).toMatchObject({ spentUsd: 5, reservedUsd: 0 });
      expect(audit.records[0]).toMatchObject({ outcome: 'unknown', actualMicros: 5_000_000 });
    });

    it('should say so when a compressed answer decodes past what the vault decodes, not that it cannot read gzip', async () => {
      const bomb = gzipSync(Buffer.alloc(70 * 1024 * 1024, 0x20)); // ~70 KB on the wire, 70 MiB decoded
      const compressing = createServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bomb);
      });
      await new Promise<void>((resolve) => compressing.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(compressing.address() as AddressInfo).port}`;
      try {
        const { response, status, audit } = await chargeOnce(url);
        expect(response.status).toBe(502);
        expect(response.keybrake.error?.message).toMatch(
          /The acme API answered with more than the 64 MiB Keybrake decodes to price a call; the outcome of this call is unknown/,
        );
        expect(status).toMatchObject({ spentUsd: 5, reservedUsd: 0 });
        expect(audit.records[0]).toMatchObject({
          outcome: 'unknown',
          actualMicros: 5_000_000,
          note: 'outcome unknown: the acme API answered with more than the 64 MiB Keybrake decodes to price a call; the estimate stays counted',
        });
      } finally {
        compressing.closeAllConnections();
        await new Promise((resolve) => compressing.close(resolve));
      }
    });

    it('should say so when the answer is larger than the vault reads, and keep the estimate', async () => {
      const huge = await startRecordingUpstream(() => ({ body: 'x'.repeat(33 * 1024 * 1024) }));
      const { response, status } = await chargeOnce(huge.url).finally(() => huge.close());
      expect(response.status).toBe(502);
      expect(response.keybrake.error?.message).toMatch(/answered with more than the 32 MiB Keybrake reads/);
      expect(status).toMatchObject({ spentUsd: 5, reservedUsd: 0 });
    });

    it('should count nothing for a call aborted before it was sent', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const controller = new AbortController();
      controller.abort();
      // The capped fetch rejects at once, as fetch does; the vault, given the aborted signal, releases.
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      await expect(
        send('https://ignored.example/v1/charges', { method: 'POST', body: 'amount=1', signal: controller.signal }),
      ).rejects.toMatchObject({ name: 'AbortError' });
      expect((await vault.queryAudit({ keyId: key.id })).records).toEqual([]);
      await expect(
        vault.handle({
          vaultKey: key.vaultKey,
          method: 'POST',
          path: '/v1/charges',
          headers: {},
          body: 'amount=1',
          signal: controller.signal,
        }),
      ).rejects.toMatchObject({ name: 'AbortError' });
      expect(upstream.received).toHaveLength(0);
      expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentUsd: 0, reservedUsd: 0 });
      // Aborted before its reservation: nothing to settle, nothing to audit (as with the capped fetch).
      expect((await vault.queryAudit({ keyId: key.id })).records).toEqual([]);
    });

    it('should count nothing when the upstream cannot be reached', async () => {
      const { response, status } = await chargeOnce('http://127.0.0.1:1');
      expect(response.status).toBe(502);
      expect(status).toMatchObject({ spentUsd: 0, reservedUsd: 0 });
    });
  });

  describe('when the ledger fails after the vendor answered', () => {
    it('should still return the vendor response and keep the estimate reserved', async () => {
      const ledger = createMemoryLedger();
      const vault = createAcmeVault({
        baseUrl: upstream.url,
        prices: { 'POST /**': 3 },
        ledger: { ...ledger, settle: () => Promise.reject(new Error('ledger down')) },
      });
      vaults.push(vault);
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const response = await vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
      expect(response.status).toBe(200);
      expect(upstream.received).toHaveLength(1);
      expect(await vault.getKeyStatus(key.id)).toMatchObject({ reservedUsd: 3 });
      expect((await vault.queryAudit({ keyId: key.id })).records[0]?.note).toMatch(/settlement failed/);
    });

    it('should say the outcome is unknown, not that the call was denied, when the vendor dropped the call too', async () => {
      const dropping = createServer((request) => {
        request.resume();
        request.on('end', () => request.socket.destroy());
      });
      dropping.listen(0, '127.0.0.1');
      await once(dropping, 'listening');
      const ledger = createMemoryLedger();
      const vault = createAcmeVault({
        baseUrl: `http://127.0.0.1:${(dropping.address() as AddressInfo).port}`,
        prices: { 'POST /**': 3 },
        ledger: { ...ledger, settle: () => Promise.reject(new Error('ledger down')) },
      });
      vaults.push(vault);
      try {
        const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
        const response = await callWith(vault, key.vaultKey);
        expect(response.status).toBe(502);
        expect(response.keybrake.error).toMatchObject({ code: 'KEYBRAKE_UPSTREAM_ERROR', outcomeUnknown: true });
        expect(response.keybrake.actualMicros).toBe(3_000_000);
        expect(await vault.getKeyStatus(key.id)).toMatchObject({ reservedUsd: 3 });
        const [record] = (await vault.queryAudit({ keyId: key.id })).records;
        expect(record).toMatchObject({ outcome: 'unknown', actualMicros: 3_000_000 });
        expect(record?.note).toMatch(/settlement failed \(ledger down\); the estimate stays counted/);
      } finally {
        dropping.close();
      }
    });
  });

  describe('when the ledger fails to answer a reservation it may still have made', () => {
    it('should deny the call, send nothing and release the reservation', async () => {
      const ledger = createMemoryLedger();
      const vault = createAcmeVault({
        baseUrl: upstream.url,
        prices: { 'POST /**': 3 },
        // As a Redis command timing out on the client while Redis still runs it.
        ledger: {
          ...ledger,
          reserve: async (request) => {
            await ledger.reserve(request);
            throw new Error('command timed out');
          },
        },
      });
      vaults.push(vault);
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const response = await vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
      expect(response.status).toBe(503);
      expect(upstream.received).toHaveLength(0);
      expect(await ledger.balance(key.id, Date.now())).toMatchObject({ spentMicros: 0, reservedMicros: 0 });
    });
  });

  describe('when the vault is closed', () => {
    it('should refuse calls, and a memory ledger shared with another vault should keep its spending', async () => {
      const ledger = createMemoryLedger();
      const keyStore = createMemoryKeyStore();
      const dispatcher = new Agent();
      const [first, second] = [0, 1].map(() =>
        createAcmeVault({ baseUrl: upstream.url, prices: { 'POST /**': 5 }, ledger, keyStore, dispatcher }),
      ) as [Vault, Vault];
      vaults.push(second);
      const key = await first.issueKey({ vendor: 'acme', capUsd: 10 });
      const charge = (vault: Vault) =>
        vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
      expect((await charge(first)).status).toBe(200);
      await first.close();
      const afterClose = await charge(first);
      expect([afterClose.status, afterClose.keybrake.error?.message]).toEqual([
        503,
        'Keybrake denied this call: the vault is closed.',
      ]);
      expect([(await charge(second)).status, (await charge(second)).status]).toEqual([200, 429]);
      expect(upstream.received).toHaveLength(2);
      await dispatcher.close();
    });
  });

  describe('when vaults share a key store', () => {
    it('should refuse to count its keys in a second ledger, which would enforce every cap again', () => {
      const keyStore = createMemoryKeyStore();
      vaults.push(createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore }));
      // Another default memory ledger on the same key store: a $50 key could spend $50 in each.
      expect(() => createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore })).toThrow(
        /already used by a vault with another ledger/,
      );
      // A key store other processes read (Redis) needs a ledger they count in too.
      const shared: KeyStore = { ...createMemoryKeyStore(), shared: true };
      expect(() => createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore: shared })).toThrow(
        InvalidPolicyError,
      );
      expect(() =>
        createAcmeVault({
          baseUrl: upstream.url,
          prices: {},
          keyStore: shared,
          ledger: { ...createMemoryLedger(), shared: true },
        }),
      ).not.toThrow();
    });

    it('should take two Keyv key stores over one backend and namespace for one store', () => {
      // Two stores over one in-memory Keyv: each vault would count a $9 key's spend on its own.
      const keyv = new Keyv();
      vaults.push(createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore: createKeyvKeyStore({ keyv }) }));
      expect(() =>
        createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore: createKeyvKeyStore({ keyv }) }),
      ).toThrow(/already used by a vault with another ledger/);
      // The same Map behind another Keyv, same namespace: the same records.
      const store = new Map();
      const over = (namespace: string) =>
        createKeyvKeyStore({ keyv: new Keyv({ store, namespace, serialize: undefined, deserialize: undefined }) });
      vaults.push(createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore: over('a') }));
      expect(() => createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore: over('a') })).toThrow(
        /already used by a vault with another ledger/,
      );
      // Another namespace keeps other records: another store.
      vaults.push(createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore: over('b') }));
      // Unless the Keyvs do not prefix their keys: then every namespace reads the same entries.
      const unprefixed = new Map();
      const bare = (namespace: string) =>
        createKeyvKeyStore({ keyv: new Keyv({ store: unprefixed, namespace, useKeyPrefix: false }) });
      vaults.push(createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore: bare('a') }));
      expect(() => createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore: bare('b') })).toThrow(
        /already used by a vault with another ledger/,
      );
    });

    it('should not claim a key store for a vault it refused, and let shared ledgers share it', () => {
      const keyStore = createMemoryKeyStore();
      expect(() => createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore, fx: { eur: -1 } })).toThrow(
        /Invalid FX rate/,
      );
      vaults.push(createAcmeVault({ baseUrl: upstream.url, prices: {}, keyStore, fx: { eur: 1.1 } }));
      // Two shared ledgers (two connections to one Redis count) on one shared key store.
      const shared: KeyStore = { ...createMemoryKeyStore(), shared: true };
      for (let index = 0; index < 2; index++)
        vaults.push(
          createAcmeVault({
            baseUrl: upstream.url,
            prices: {},
            keyStore: shared,
            ledger: { ...createMemoryLedger(), shared: true },
          }),
        );
    });
  });

  describe('when settling is slow', () => {
    /** A vault charging `usd` per POST whose memory ledger settles only once `delay` resolves. */
    const slowlySettlingVault = (usd: number, delay: (reservationId: string) => Promise<void>) => {
      const ledger = createMemoryLedger();
      const vault = createAcmeVault({
        baseUrl: upstream.url,
        prices: { 'POST /**': usd },
        ledger: {
          ...ledger,
          settle: async (request) => {
            await delay(request.reservationId);
            await ledger.settle(request);
          },
        },
      });
      return { vault, ledger };
    };

    it('should answer first, hold the estimate meanwhile, and make status and audit wait for the settlement', async () => {
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const settling: string[] = [];
      const { vault, ledger } = slowlySettlingVault(3, (reservationId) => {
        settling.push(reservationId);
        return gate;
      });
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      const charge = () => vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });

      const answered = await charge();
      expect(answered.status).toBe(200);
      expect(settling).toEqual([answered.keybrake.auditId]);
      // Not settled yet: the reservation holds the estimate, so the cap still counts it.
      expect(await ledger.balance(key.id, Date.now())).toMatchObject({ spentMicros: 0, reservedMicros: 3_000_000 });
      expect((await charge()).keybrake.error?.code).toBe('KEYBRAKE_CAP_EXCEEDED');

      let status: number | undefined;
      const reading = vault.getKeyStatus(key.id).then((read) => {
        status = read.spentMicros;
      });
      const auditing = vault.queryAudit({ keyId: key.id, decision: 'allowed' });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(status).toBeUndefined();
      release();
      await reading;
      expect(status).toBe(3_000_000);
      expect((await auditing).records).toEqual([
        expect.objectContaining({ id: answered.keybrake.auditId, outcome: 'settled', actualMicros: 3_000_000 }),
      ]);
      await vault.close();
      expect(upstream.received).toHaveLength(1);
    });

    it('should let close wait for a settlement still in flight', async () => {
      const settled: string[] = [];
      const { vault } = slowlySettlingVault(1, async (reservationId) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        settled.push(reservationId);
      });
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      const answered = await vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
      expect(settled).toEqual([]);
      await vault.close();
      expect(settled).toEqual([answered.keybrake.auditId]);
    });
  });

  describe('when a cost cannot be determined', () => {
    it('should deny the call (fail closed) unless the key sets a fallback', async () => {
      const vault = makeVault();
      const strict = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const denied = await callWith(vault, strict.vaultKey, 'POST', '/v1/payouts');
      expect(denied.status).toBe(403);
      expect(denied.keybrake.error?.code).toBe('KEYBRAKE_UNKNOWN_COST');
      const lenient = await vault.issueKey({ vendor: 'acme', capUsd: 10, fallbackEstimateUsd: 4 });
      const allowed = await vault.handle({
        vaultKey: lenient.vaultKey,
        method: 'POST',
        path: '/v1/payouts',
        headers: {},
      });
      expect(allowed.status).toBe(200);
      expect((await vault.getKeyStatus(lenient.id)).spentUsd).toBe(4);
      expect(upstream.received).toHaveLength(1);
    });

    it('should not quote a vault key the caller wrote into the path in its denial', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const denied = await callWith(vault, key.vaultKey, 'POST', `/v1/payouts/${key.vaultKey}`);
      expect(denied.keybrake.error?.code).toBe('KEYBRAKE_UNKNOWN_COST');
      expect(denied.keybrake.error?.message).toContain('POST /v1/payouts/[redacted vault key]');
      expect(Buffer.from(denied.body).toString()).not.toContain(key.vaultKey);
      const failing = customVault({
        estimate: () => {
          throw new Error('price service down');
        },
        settle: () => ({ kind: 'unknown', reason: 'unused' }),
      });
      const custom = await failing.issueKey({ vendor: 'custom', capUsd: 10 });
      const failed = await failing.handle({
        vaultKey: custom.vaultKey,
        method: 'POST',
        path: `/v1/charges/${custom.vaultKey}`,
        headers: {},
      });
      expect(failed.keybrake.error?.message).toContain('failed POST /v1/charges/[redacted vault key], so it cannot');
      expect(upstream.received).toHaveLength(0);
    });
  });

  describe('when the body is too large', () => {
    it('should answer 413 and send nothing', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const response = await vault.handle({
        vaultKey: key.vaultKey,
        method: 'POST',
        path: '/v1/charges',
        headers: {},
        body: 'x'.repeat(1_048_577),
      });
      expect(response.status).toBe(413);
      expect(upstream.received).toHaveLength(0);
    });

    it('should deny a body the caller stopped reading (bodyOverLimit), audit it under the key and send nothing', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10, label: 'run-7/billing' });
      const response = await vault.handle({
        vaultKey: key.vaultKey,
        method: 'POST',
        path: '/v1/charges',
        headers: {},
        body: 'amount=500',
        bodyOverLimit: { limitBytes: 4096 },
        actor: { member: 'billing' },
      });
      expect(response.status).toBe(413);
      expect(response.keybrake.error?.message).toMatch(/over the 4096-byte limit\. The call was not sent\./);
      expect(upstream.received).toHaveLength(0);
      const { records } = await vault.queryAudit({ keyId: key.id });
      expect(records).toEqual([
        expect.objectContaining({
          id: response.keybrake.auditId,
          label: 'run-7/billing',
          decision: 'denied',
          reason: 'KEYBRAKE_INVALID_REQUEST',
          actualMicros: 0,
          actor: { member: 'billing' },
        }),
      ]);
      expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(0);
    });
  });

  describe('issueKey', () => {
    it('should make a child narrow its parent', async () => {
      const vault = makeVault();
      const parent = await vault.issueKey({
        vendor: 'acme',
        capUsd: 100,
        allowedEndpoints: ['POST /v1/charges', 'GET /v1/customers/*'],
        expiresIn: '1h',
      });
      await expect(vault.issueKey({ parentId: parent.id, capUsd: 101 })).rejects.toThrow(InvalidPolicyError);
      await expect(vault.issueKey({ parentId: parent.id, allowedEndpoints: ['POST /v1/refunds'] })).rejects.toThrow(
        /wider/,
      );
      await expect(vault.issueKey({ parentId: parent.id, expiresIn: '2h' })).rejects.toThrow(/outlive/);
      await expect(vault.issueKey({ parentId: parent.id, vendor: 'other' })).rejects.toThrow(InvalidPolicyError);
      const child = await vault.issueKey({ parentId: parent.id, capUsd: 40 });
      expect(child.vendor).toBe('acme');
      expect((await vault.getKeyStatus(child.id)).allowedEndpoints).toEqual([
        'POST /v1/charges',
        'GET /v1/customers/*',
      ]);
      await expect(vault.issueKey({ vendor: 'acme' })).rejects.toThrow(/needs a cap/);
      await expect(vault.issueKey({ vendor: 'nope', capUsd: 1 })).rejects.toThrow(/Unknown vendor/);
    });

    it("should cut a child asked for its parent's own lifetime a moment later to the parent's expiry, not refuse it", async () => {
      const vault = makeVault();
      const parent = await vault.issueKey({ capUsd: 100, expiresIn: '1h' });
      now += 5;
      const child = await vault.issueKey({ parentId: parent.id, vendor: 'acme', capUsd: 10, expiresIn: '1h' });
      expect(child.expiresAt).toBe(parent.expiresAt);
      now += 60_000;
      // A minute and more over is a real mistake: refused, unless asked to cut it.
      await expect(vault.issueKey({ parentId: parent.id, vendor: 'acme', expiresIn: '1h' })).rejects.toThrow(
        /cannot outlive its parent: asked for 3600s, the parent has 3540s left\. Ask for less, or set expiresWithParent/,
      );
      const cut = await vault.issueKey({
        parentId: parent.id,
        vendor: 'acme',
        expiresIn: '1h',
        expiresWithParent: true,
      });
      expect(cut.expiresAt).toBe(parent.expiresAt);
    });

    it("should keep a child from loosening its parent's rule for calls of unknown cost", async () => {
      const vault = makeVault();
      // No fallback on the vendor key: unknown costs are denied, and a child cannot allow them.
      const strict = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      await expect(vault.issueKey({ parentId: strict.id, fallbackEstimateUsd: '0.000001' })).rejects.toThrow(
        /cannot set fallbackEstimateUsd/,
      );
      // A $5 fallback on the parent: a child asking for $0.01 still reserves $5 per unknown call.
      const lenient = await vault.issueKey({ vendor: 'acme', capUsd: 10, fallbackEstimateUsd: 5 });
      const child = await vault.issueKey({ parentId: lenient.id, fallbackEstimateUsd: '0.01' });
      const unknown = () =>
        vault.handle({ vaultKey: child.vaultKey, method: 'POST', path: '/v1/payouts', headers: {} });
      expect([(await unknown()).status, (await unknown()).status, (await unknown()).status]).toEqual([200, 200, 429]);
      expect((await vault.getKeyStatus(lenient.id)).spentUsd).toBe(10);
    });

    it("should copy a key's metadata and allow-list in and out, so a caller's objects cannot change it", async () => {
      const vault = makeVault();
      const metadata = { team: 'billing' };
      const key = await vault.issueKey({
        vendor: 'acme',
        capUsd: 10,
        allowedEndpoints: ['POST /v1/charges'],
        metadata,
      });
      metadata.team = 'changed later';
      const status = await vault.getKeyStatus(key.id);
      expect(status.metadata).toEqual({ team: 'billing' });
      (status.allowedEndpoints as string[]).push('POST /**');
      (status.metadata as Record<string, unknown>).team = 'changed through the status';
      const answer = await vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/v1/payouts', headers: {} });
      expect(answer.keybrake.error?.code).toBe('KEYBRAKE_ENDPOINT_NOT_ALLOWED');
      expect((await vault.getKeyStatus(key.id)).metadata).toEqual({ team: 'billing' });
    });

    it('should refuse a key of the other mode, even from a vault sharing its store', async () => {
      const keyStore = createMemoryKeyStore();
      const vendors = {
        custom: createBearerVendor({
          name: 'custom',
          baseUrl: upstream.url,
          costModel: { estimate: () => ({ kind: 'known', micros: 1 }), settle: () => ({ kind: 'known', micros: 1 }) },
        }),
      };
      const ledger = createMemoryLedger(); // one key store, one ledger
      const staging = createVault({ vendors, secrets: { custom: 'sk_test_x' }, keyStore, ledger, mode: 'test' });
      const production = createVault({ vendors, secrets: { custom: 'sk_live_REAL' }, keyStore, ledger, mode: 'live' });
      vaults.push(staging, production);
      const testKey = await staging.issueKey({ vendor: 'custom', capUsd: 5 });
      const answer = await production.handle({
        vaultKey: testKey.vaultKey,
        method: 'POST',
        path: '/charge',
        headers: {},
      });
      expect([answer.status, answer.keybrake.error?.message]).toEqual([
        401,
        'Keybrake denied this call: this is a test key, and this vault fronts live secrets.',
      ]);
      expect(upstream.received).toHaveLength(0);

      // Nor is another mode's key a parent to issue under, or this vault's to show or revoke.
      await expect(production.issueKey({ parentId: testKey.id, capUsd: 1 })).rejects.toThrow(
        `Parent key ${testKey.id} is a test key, and this vault issues live keys.`,
      );
      await expect(production.getKeyStatus(testKey.id)).rejects.toThrow(`Key ${testKey.id} does not exist.`);
      await expect(production.revokeKey(testKey.id)).rejects.toThrow(`Key ${testKey.id} does not exist.`);
      expect((await staging.getKeyStatus(testKey.id)).revoked).toBe(false);
    });

    it('should refuse a lifetime past what a Date holds before storing anything, and copy the children list out', async () => {
      // The Keyv store keeps the children list it hands out.
      const vault = createAcmeVault({
        baseUrl: upstream.url,
        prices: { 'POST /**': 1 },
        keyStore: createKeyvKeyStore(),
      });
      vaults.push(vault);
      await expect(vault.issueKey({ vendor: 'acme', capUsd: 5, expiresIn: 1e13 })).rejects.toThrow(InvalidPolicyError);
      const root = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      const child = await vault.issueKey({ parentId: root.id, capUsd: 1 });
      (await vault.getKeyStatus(root.id)).children.length = 0;
      expect((await vault.getKeyStatus(root.id)).children).toEqual([child.id]);
      expect((await vault.revokeKey(root.id)).revoked).toEqual([root.id, child.id]);
    });

    it('should refuse loose policy values (from JSON or a database) with InvalidPolicyError, never widen the key', async () => {
      const vault = makeVault();
      const refused = async (options: Record<string, unknown>) => {
        const error = await vault
          .issueKey({ vendor: 'acme', capUsd: 5, ...options } as never)
          .catch((caught) => caught);
        expect(error).toBeInstanceOf(InvalidPolicyError);
        return (error as Error).message;
      };
      // `null` is not "omitted": it would allow every endpoint.
      expect(await refused({ allowedEndpoints: null })).toMatch(/must be an array/);
      expect(await refused({ allowedEndpoints: 'POST /v1/charges' })).toMatch(/must be an array/);
      expect(await refused({ allowedEndpoints: ['POST /v1/charges?confirm=true'] })).toMatch(/without a query/);
      for (const field of ['capUsd', 'dailyCapUsd', 'perCallMaxUsd', 'fallbackEstimateUsd'])
        expect(await refused({ [field]: null })).toMatch(/expected a number or a decimal string/);
      expect(await refused({ capUsd: true })).toMatch(/Invalid USD amount boolean/);
      expect(upstream.received).toHaveLength(0);
    });

    it('should refuse a child cap larger than what remains of the parent', async () => {
      const vault = makeVault();
      const parent = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      await vault.handle({ vaultKey: parent.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
      await expect(vault.issueKey({ parentId: parent.id, capUsd: 8 })).rejects.toThrow(/\$7\.00/);
    });

    it('should let a budget-only session key hold no vendor and refuse calls with it', async () => {
      const vault = makeVault();
      const session = await vault.issueKey({ capUsd: 5 });
      const response = await vault.handle({
        vaultKey: session.vaultKey,
        method: 'GET',
        path: '/v1/customers/cus_1',
        headers: {},
      });
      expect(response.status).toBe(401);
      expect(upstream.received).toHaveLength(0);
    });
  });

  describe('when a reservation could expire before its call has ended', () => {
    it('should refuse a reservationTtl shorter than the longest call, and raise the default to it', async () => {
      expect(() => createAcmeVault({ baseUrl: upstream.url, prices: {}, reservationTtl: '100ms' })).toThrow(
        /reservationTtl \(100 ms\) must outlast the longest call, 2 × upstreamTimeout \+ 1s = 121000 ms/,
      );
      expect(() =>
        createAcmeVault({ baseUrl: upstream.url, prices: {}, reservationTtl: '61s', upstreamTimeout: '30s' }),
      ).not.toThrow();
      const inner = createMemoryLedger();
      const ttls: number[] = [];
      const vault = createAcmeVault({
        baseUrl: upstream.url,
        prices: { 'POST /**': 1 },
        upstreamTimeout: '15m',
        ledger: {
          ...inner,
          reserve: (request) => {
            ttls.push(request.ttlMs);
            return inner.reserve(request);
          },
        },
      });
      vaults.push(vault);
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      expect((await callWith(vault, key.vaultKey)).status).toBe(200);
      expect(ttls).toEqual([2 * 15 * 60_000 + 1000]);
    });
  });

  describe('secrets', () => {
    it('should refuse a secret or an upstream for a vendor it does not know, so a typo never leaves a vendor on its real host', () => {
      expect(() => createVault({ secrets: { strpe: 'sk_test_x' } })).toThrow(
        /secret was given for unknown vendor "strpe"/,
      );
      for (const name of ['strpe', 'Stripe']) {
        expect(() =>
          createVault({ secrets: { stripe: 'sk_test_x' }, upstreams: { [name]: 'http://127.0.0.1:12111' } }),
        ).toThrow(new RegExp(`upstream was given for unknown vendor "${name}" \\(known: stripe, twilio, resend\\)`));
      }
      // Unset entries (an optional environment variable) are ignored, as for secrets.
      expect(() => createVault({ upstreams: { strpe: undefined } })).not.toThrow();
      // Nor prices: a typo would leave Twilio on its default prices.
      expect(() => createVault({ prices: { Twilio: { smsSegmentUsd: '0.05' } } as never })).toThrow(
        /Prices were given for unknown vendor "Twilio" \(built-in: stripe, twilio, resend\)/,
      );
    });

    it('should inject the real secret upstream and never show it or a vault key in audit records or errors', async () => {
      const vault = makeVault();
      const { session, billing } = await team(vault);
      const send = vault.createFetch();
      const ok = await send('http://x/v1/charges', {
        method: 'POST',
        headers: { authorization: `Bearer ${billing.vaultKey}` },
      });
      expect(ok.status).toBe(200);
      expect(upstream.received[0]?.headers.authorization).toBe(`Bearer ${SECRET}`);
      const texts: string[] = [];
      for (let call = 0; call < 60; call++) {
        const response = await send('http://x/v1/charges', {
          method: 'POST',
          headers: { authorization: `Bearer ${billing.vaultKey}` },
        });
        texts.push(await response.text());
      }
      await vault.revokeKey(session.id);
      texts.push(
        await (
          await send('http://x/v1/charges', {
            method: 'POST',
            headers: { authorization: `Bearer ${billing.vaultKey}` },
          })
        ).text(),
      );
      texts.push(JSON.stringify(await vault.queryAudit({ limit: 1000 })));
      texts.push(JSON.stringify(await vault.getKeyStatus(billing.id)));
      const all = texts.join('\n');
      expect(all).toContain('KEYBRAKE_CAP_EXCEEDED');
      expect(all).toContain('KEYBRAKE_KEY_REVOKED');
      expect(all).not.toContain(SECRET);
      expect(all).not.toContain(billing.vaultKey);
      expect(all).not.toContain(session.vaultKey);
      expect(all).not.toMatch(/kb_test_[0-9A-Za-z]{20}/);
    });
    it('should show a cost model that logs its arguments neither the real secret nor the vault key', async () => {
      const seen: string[] = [];
      const vault = customVault({
        estimate(request, context) {
          seen.push(
            inspect({ request, context }, { depth: 6, showHidden: true }),
            JSON.stringify({ request, context }),
          );
          seen.push(inspect([...request.headers]));
          return { kind: 'known', micros: 0 };
        },
        settle: () => ({ kind: 'known', micros: 0 }),
      });
      const key = await vault.issueKey({ vendor: 'custom', capUsd: 1 });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })('https://x.invalid/v1/things', {
        method: 'POST',
        headers: { 'x-request-tag': 'tagged', 'proxy-authorization': `Bearer ${key.vaultKey}` },
        body: 'a=1',
      });
      expect(response.status).toBe(200);
      const text = seen.join('\n');
      expect(text).toContain('tagged'); // the other headers are there
      expect(text).not.toContain('sk_custom_secret');
      expect(text).not.toContain(key.vaultKey);
    });
  });

  describe('when a key with very many children is revoked', () => {
    it('should revoke them all, in batches a store can take', async () => {
      const keyStore = createMemoryKeyStore();
      const batches: number[] = [];
      let rootId = '';
      const vault = createAcmeVault({
        baseUrl: upstream.url,
        prices: { 'POST /**': 1 },
        keyStore: {
          ...keyStore,
          // As if the root had issued 200,000 short-lived children.
          children: async (id) =>
            id === rootId ? Array.from({ length: 200_000 }, (_, index) => `kbk_child${index}`) : keyStore.children(id),
          revoke: async (ids, at) => {
            batches.push(ids.length);
            return keyStore.revoke(ids, at);
          },
        },
      });
      vaults.push(vault);
      rootId = (await vault.issueKey({ vendor: 'acme', capUsd: 10 })).id;
      const { revoked } = await vault.revokeKey(rootId);
      expect(revoked).toHaveLength(200_001);
      expect(revoked[0]).toBe(rootId);
      expect(batches[0]).toBe(1); // the key itself, before its tree is walked
      expect(Math.max(...batches)).toBeLessThanOrEqual(1000);
      expect(batches.reduce((sum, size) => sum + size, 0)).toBe(200_001);
    });
  });

  describe('when the audit is queried with a limit or time it cannot use', () => {
    it('should refuse it rather than drop a record or ignore the filter', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      for (let call = 0; call < 3; call++) await callWith(vault, key.vaultKey, 'GET', '/v1/customers/cus_1');
      expect((await vault.queryAudit({})).records).toHaveLength(3);
      for (const query of [
        { limit: -1 },
        { limit: 0 },
        { limit: 1.5 },
        { since: 'yesterday' },
        { until: Number.NaN },
        // Days that do not exist, which Date.parse would roll over to 2026-03-02 and 2026-05-01.
        { since: '2026-02-30' },
        { until: '2026-04-31T00:00:00Z' },
      ]) {
        await expect(vault.queryAudit(query), JSON.stringify(query)).rejects.toThrow(/Invalid audit query/);
      }
      expect((await vault.queryAudit({ since: new Date(now).toISOString(), limit: 2 })).records).toHaveLength(2);
    });
  });

  describe('when a key store reads whole chains (getChain)', () => {
    it('should use it instead of get + getMany, and deny with a storage error if it returns too few parents', async () => {
      const inner = createKeyvKeyStore();
      const reads = { get: 0, getMany: 0, getChain: 0 };
      let dropParent = false;
      const keyStore: KeyStore = {
        ...inner,
        get: (id) => {
          reads.get += 1;
          return inner.get(id);
        },
        getMany: (ids) => {
          reads.getMany += 1;
          return inner.getMany(ids);
        },
        async getChain(id) {
          reads.getChain += 1;
          const record = await inner.get(id);
          if (!record) return undefined;
          const parents = await inner.getMany(record.ancestorIds);
          return [record, ...(dropParent ? parents.slice(1) : parents)];
        },
      };
      const vault = createAcmeVault({ baseUrl: upstream.url, prices: { 'POST /v1/charges': 1 }, keyStore });
      vaults.push(vault);
      const session = await vault.issueKey({ capUsd: 10 });
      const member = await vault.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 5 });
      const call = () => callWith(vault, member.vaultKey);
      Object.assign(reads, { get: 0, getMany: 0, getChain: 0 });
      expect((await call()).status).toBe(200);
      // Read to check the call, and again after its reservation (a revocation meanwhile).
      expect(reads).toEqual({ get: 0, getMany: 0, getChain: 2 });
      dropParent = true;
      const denied = await call();
      expect(denied.status).toBe(503);
      expect(denied.keybrake.error?.code).toBe('KEYBRAKE_STORAGE_ERROR');
      expect(upstream.received).toHaveLength(1);
    });

    it('should refuse a record whose stored hash differs from the presented key, even in its last digit', async () => {
      const inner = createMemoryKeyStore();
      let tamper: ((hash: string) => string) | undefined;
      const keyStore: KeyStore = {
        ...inner,
        async getChain(id) {
          const chain = await inner.getChain?.(id);
          if (!chain || !tamper) return chain;
          return [{ ...chain[0], hash: tamper(chain[0].hash) }, ...chain.slice(1)];
        },
      };
      const vault = createAcmeVault({ baseUrl: upstream.url, prices: { 'POST /v1/charges': 1 }, keyStore });
      vaults.push(vault);
      const member = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      const call = () => callWith(vault, member.vaultKey);
      expect((await call()).status).toBe(200);
      const flipLast = (hash: string) => `${hash.slice(0, -1)}${hash.endsWith('0') ? '1' : '0'}`;
      for (const change of [flipLast, (hash: string) => hash.slice(1), (hash: string) => hash.toUpperCase()]) {
        tamper = change;
        const denied = await call();
        expect(denied.status).toBe(401);
        expect(denied.keybrake.error?.message).toContain('not known to this vault');
      }
      expect(upstream.received).toHaveLength(1);
    });
  });

  describe('when a cost model reconciles late prices with reconcile only', () => {
    it('should settle at the estimate, then replace it with the price a later GET reports, once', async () => {
      const sms = await startRecordingUpstream((request) =>
        request.method === 'POST' ? { body: { id: 'msg_1', price: null } } : { body: { id: 'msg_1', price: 40_000 } },
      );
      const model: CostModel = {
        estimate: (request) => ({ kind: 'known', micros: request.method === 'POST' ? 50_000 : 0 }),
        settle: (request, response, estimate) => {
          const id = (response.json as { id?: string }).id;
          if (request.method !== 'POST' || estimate.kind !== 'known' || !id) return { kind: 'known', micros: 0 };
          return { kind: 'known', micros: estimate.micros, pendingRef: id };
        },
        reconcile: (_request, response) => {
          const { id, price } = response.json as { id: string; price: number | null };
          return price === null ? undefined : { ref: id, micros: price };
        },
      };
      const vault = customVault(model, sms.url);
      const key = await vault.issueKey({ vendor: 'custom', capUsd: 1, label: 'notifier' });
      const call = (method: string, path: string) =>
        vault.handle({ vaultKey: key.vaultKey, method, path, headers: {} });
      await call('POST', '/messages');
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(50_000);
      await call('GET', '/messages/msg_1');
      await call('GET', '/messages/msg_1');
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(40_000);
      const { records } = await vault.queryAudit({ keyId: key.id });
      expect(records.filter((record) => record.note?.includes("reconciled to the vendor's price"))).toEqual([
        expect.objectContaining({ method: 'POST', actualMicros: 40_000, label: 'notifier' }),
      ]);
      await sms.close();
    });

    it("should keep a call's own settled cost when the late prices its answer reports cannot be applied", async () => {
      const sms = await startRecordingUpstream((request) =>
        request.method === 'POST' ? { body: { id: 'msg_1', price: null } } : { body: { id: 'msg_1', price: 40_000 } },
      );
      const inner = createMemoryKeyStore();
      let storeDown = false;
      const keyStore: KeyStore = {
        ...inner,
        getPending: async (ref) => {
          if (storeDown) throw new Error('key store unreachable');
          return inner.getPending?.(ref);
        },
        takePending: async (ref) => {
          if (storeDown) throw new Error('key store unreachable');
          return inner.takePending(ref);
        },
      };
      const model: CostModel = {
        // A priced GET (a paid lookup) whose own cost is known from its answer.
        estimate: (request) => ({ kind: 'known', micros: request.method === 'POST' ? 50_000 : 10_000 }),
        settle: (request, response, estimate) => {
          const id = (response.json as { id?: string }).id;
          if (request.method !== 'POST') return { kind: 'known', micros: 7_000 };
          return estimate.kind === 'known' && id
            ? { kind: 'known', micros: estimate.micros, pendingRef: id }
            : { kind: 'known', micros: 0 };
        },
        reconcile: (_request, response) => {
          const { id, price } = response.json as { id: string; price: number | null };
          return price === null ? undefined : { ref: id, micros: price };
        },
      };
      const vault = customVault(model, sms.url, keyStore);
      const key = await vault.issueKey({ vendor: 'custom', capUsd: 1 });
      const call = (method: string, path: string) =>
        vault.handle({ vaultKey: key.vaultKey, method, path, headers: {} });
      await call('POST', '/messages');
      storeDown = true;
      const lookup = await call('GET', '/messages/msg_1');
      await vault.getKeyStatus(key.id);
      const record = (await vault.queryAudit({ keyId: key.id })).records.find(
        (each) => each.id === lookup.keybrake.auditId,
      );
      expect(record).toMatchObject({
        outcome: 'settled',
        actualMicros: 7_000,
        note: 'late prices of earlier calls not applied (key store unreachable)',
      });
      // The SMS keeps its estimate; the lookup its own cost.
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(57_000);
      await sms.close();
    });
  });

  describe('when a cost model throws after the vendor answered', () => {
    /** One call through a vault fronting `model`; the vendor's answer must come back either way. */
    const answeredDespite = async (model: CostModel, method: string, path: string) => {
      const vault = customVault(model);
      const key = await vault.issueKey({ vendor: 'custom', capUsd: 10 });
      const answered = await vault.handle({ vaultKey: key.vaultKey, method, path, headers: {} });
      expect(answered.status).toBe(200);
      expect(upstream.received).toHaveLength(1);
      return { vault, key, answered };
    };

    it('should answer, count the estimate and say so in the audit record when settling throws', async () => {
      const { vault, key, answered } = await answeredDespite(
        {
          estimate: () => ({ kind: 'known', micros: 2_000_000 }),
          settle: () => {
            throw new Error('no FX rate for XTS');
          },
        },
        'POST',
        '/charges',
      );
      expect(answered.keybrake).toMatchObject({ decision: 'allowed', actualMicros: 2_000_000 });
      expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(2_000_000);
      expect((await vault.queryAudit({ keyId: key.id })).records).toEqual([
        expect.objectContaining({
          outcome: 'settled',
          actualMicros: 2_000_000,
          note: 'cost not read (no FX rate for XTS); the estimate stays counted',
        }),
      ]);
    });

    it('should answer and note it in the audit record when reading late prices throws', async () => {
      const { vault, key } = await answeredDespite(
        {
          estimate: () => ({ kind: 'known', micros: 0 }),
          settle: () => ({ kind: 'known', micros: 0 }),
          reconcileAll: () => {
            throw new Error('unexpected list shape');
          },
        },
        'GET',
        '/messages',
      );
      expect((await vault.queryAudit({ keyId: key.id })).records).toEqual([
        expect.objectContaining({ outcome: 'settled', note: 'late prices not read (unexpected list shape)' }),
      ]);
    });
  });

  describe('when a key store has no getChain', () => {
    it('should read the key then its parents, see a parent revoked at once, and deny a missing parent', async () => {
      const { getChain: _unused, ...inner } = createMemoryKeyStore();
      let hideParent = false;
      const keyStore: KeyStore = {
        ...inner,
        getMany: async (ids) => (hideParent ? ids.map(() => undefined) : inner.getMany(ids)),
      };
      const vault = createAcmeVault({ baseUrl: upstream.url, prices: { 'POST /v1/charges': 1 }, keyStore });
      vaults.push(vault);
      const session = await vault.issueKey({ capUsd: 10 });
      const member = await vault.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 5 });
      const call = () => callWith(vault, member.vaultKey);
      expect((await call()).status).toBe(200);
      hideParent = true;
      const missing = await call();
      expect(missing.status).toBe(401);
      expect(missing.keybrake.error?.message).toContain(`parent key ${session.id} of this key is missing`);
      hideParent = false;
      await vault.revokeKey(session.id);
      expect((await call()).keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
      expect(upstream.received).toHaveLength(1);
    });
  });

  describe('audit times', () => {
    it("should stamp each record with the vault clock's time of its own call", async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
      const times = [now, now, now + 1, now + 86_400_000, now + 86_400_000 + 999];
      for (const time of times) {
        now = time;
        await callWith(vault, key.vaultKey);
      }
      const { records } = await vault.queryAudit({ keyId: key.id });
      expect(records.map((record) => record.time).sort()).toEqual(times.map((time) => new Date(time).toISOString()));
    });
  });

  describe('when the client sends very long text', () => {
    it('should audit the method, the Idempotency-Key and each actor field cut to 200 characters (the path to 256), a vault key redacted first', async () => {
      const vault = makeVault();
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const big = 'x'.repeat(1_000_000);
      // A method the vault refuses (405): the error quotes 20 characters of it, the record 200.
      const refused = await vault.handle({
        vaultKey: key.vaultKey,
        method: `M${big}`,
        path: '/v1/charges',
        headers: {},
      });
      expect(refused.status).toBe(405);
      // A vault key that straddles the cut is redacted whole, not left as a piece too short to
      // recognise. (The Idempotency-Key is forwarded: kept under the upstream's 16 KB of headers.)
      const straddling = `${'a'.repeat(190)}${key.vaultKey}${'x'.repeat(10_000)}`;
      const charged = await runWithActor({ member: straddling, tool: big, toolCallId: big }, () =>
        send('http://x/v1/charges', { method: 'POST', headers: { 'idempotency-key': straddling } }),
      );
      expect(charged.status).toBe(200);
      // A long path, read whole by the vendor, audited cut.
      expect((await send(`http://x/v1/charges/${'p'.repeat(1_000)}`)).status).toBe(200);
      const { records } = await vault.queryAudit({ keyId: key.id });
      expect(records.shift()?.path).toBe(`/v1/charges/${'p'.repeat(256 - 12)}`);
      const [allowed, denied] = [
        records.find((r) => r.decision === 'allowed'),
        records.find((r) => r.decision === 'denied'),
      ];
      expect(denied?.method).toBe(`M${'X'.repeat(199)}`);
      const cut = `${'a'.repeat(190)}[redacted `;
      expect(allowed?.idempotencyKey).toBe(cut);
      expect(allowed?.actor).toEqual({ member: cut, tool: 'x'.repeat(200), toolCallId: 'x'.repeat(200) });
      expect(Math.max(...records.map((record) => JSON.stringify(record).length))).toBeLessThan(2_000);
      expect(JSON.stringify(records)).not.toContain('kb_test_');
    });
  });
});
