import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createBearerVendor,
  createFixedPriceCostModel,
  createVault,
  type IssueKeyOptions,
  type Vault,
  type VaultResponse,
} from '@keybrake/core';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStorage, type RedisStorage } from './create-redis-storage.js';
import { type RedisServer, startRedisServer } from './testing/start-redis-server.js';

const SECRET = 'sk_acme_live_DO_NOT_LEAK_0123456789';

/** How a test cost model reads its two quotes: each resolves to the quote, or `undefined`. */
type ReadQuotes = (lookup: (path: string) => Promise<unknown>) => Promise<[unknown, unknown]>;

interface Upstream {
  url: string;
  received: Array<{ method: string; url: string; authorization: string | undefined }>;
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const received: Upstream['received'] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push({ method: req.method ?? 'GET', url: req.url ?? '/', authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${received.length}` });
      res.end(JSON.stringify({ id: `ch_${received.length}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('createRedisStorage', () => {
  let redis: RedisServer;
  let upstream: Upstream;
  beforeAll(async () => {
    [redis, upstream] = await Promise.all([startRedisServer({ persistent: true }), startUpstream()]);
  });
  afterAll(async () => {
    await Promise.all([redis.close(), upstream.close()]);
  });

  const makeVault = (prefix: string): { vault: Vault; storage: RedisStorage } => {
    const storage = createRedisStorage({ url: redis.url, prefix, onAuditError: () => {} });
    const vault = createVault({
      ...storage,
      vendors: {
        acme: createBearerVendor({
          name: 'acme',
          baseUrl: 'https://api.acme.invalid',
          requestIdHeader: 'request-id',
          costModel: createFixedPriceCostModel({ prices: { 'POST /v1/charges': '3.00', 'GET /**': 0 } }),
        }),
      },
      secrets: { acme: SECRET },
      upstreams: { acme: upstream.url },
    });
    return { vault, storage };
  };

  describe('when two vault replicas share a team budget under concurrency', () => {
    it('should let the upstream receive no more than the caps allow and agree on spend and audit', async () => {
      upstream.received.length = 0;
      const prefix = `test:${randomUUID()}:`;
      const replicas = [makeVault(prefix), makeVault(prefix)];
      const [first, second] = replicas.map(({ vault }) => vault) as [Vault, Vault];
      try {
        const session = await first.issueKey({ capUsd: 200, expiresIn: '1h', label: 'team/sess_1' });
        const billing = await first.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 150, label: 'billing' });
        const notify = await second.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 50, label: 'notify' });
        const fetches = [
          first.createFetch({ vaultKey: billing.vaultKey }),
          second.createFetch({ vaultKey: billing.vaultKey }),
          first.createFetch({ vaultKey: notify.vaultKey }),
          second.createFetch({ vaultKey: notify.vaultKey }),
        ];
        const responses = await Promise.all(
          Array.from({ length: 200 }, (_, index) =>
            (fetches[index % 4] as typeof fetch)('https://ignored.example/v1/charges', { method: 'POST', body: 'a=1' }),
          ),
        );
        const allowed = responses.filter((response) => response.status === 200).length;
        expect(responses.filter((response) => response.status === 429)).toHaveLength(200 - allowed);
        expect(allowed).toBe(66); // $150 / $3 = 50 billing + $50 / $3 = 16 notify
        expect(upstream.received).toHaveLength(66);
        expect(upstream.received.every((request) => request.authorization === `Bearer ${SECRET}`)).toBe(true);
        expect((await second.getKeyStatus(session.id)).spentMicros).toBe(66 * 3_000_000);
        expect((await first.getKeyStatus(notify.id)).spentUsd).toBe(48);
        const audit = await second.queryAudit({ rootKeyId: session.id, limit: 1000 });
        expect(audit.records).toHaveLength(200);
        expect(audit.totals.find((total) => total.keyId === billing.id)).toMatchObject({
          allowed: 50,
          spentMicros: 150_000_000,
        });
      } finally {
        await Promise.all([first.close(), second.close()]);
        // Closing the storage after its vault is harmless.
        await Promise.all(replicas.map(({ storage }) => storage.close()));
      }
    });
  });

  /** A serving replica's vendor: acme at the test upstream, $3 a charge. */
  const servingAcme = () => ({
    vendors: {
      acme: createBearerVendor({
        name: 'acme',
        baseUrl: upstream.url,
        costModel: createFixedPriceCostModel({ prices: { 'POST /v1/charges': '3.00' } }),
      }),
    },
    secrets: { acme: SECRET },
  });

  describe('when another replica revokes a key while a call on it is being reserved', () => {
    it('should not send the call once revokeKey() has resolved, and release its reservation', async () => {
      upstream.received.length = 0;
      const prefix = `test:${randomUUID()}:`;
      const admin = makeVault(prefix).vault;
      const storage = createRedisStorage({ url: redis.url, prefix, onAuditError: () => {} });
      // The serving replica's reservation waits, as one slow round trip to Redis does.
      let reserving = () => {};
      let release = () => {};
      const reserveStarts = () => new Promise<void>((resolve) => (reserving = resolve));
      const serving = createVault({
        ...storage,
        ledger: {
          ...storage.ledger,
          async reserve(request) {
            reserving();
            await new Promise<void>((resolve) => (release = resolve));
            return storage.ledger.reserve(request);
          },
        },
        ...servingAcme(),
      });
      try {
        const session = await admin.issueKey({ capUsd: 30, label: 'team/sess_2' });
        const member = await admin.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 20 });
        // The serving replica has read (and cached) the chain before.
        const charge = () =>
          serving.handle({ vaultKey: member.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
        let started = reserveStarts();
        const first = charge();
        await started;
        release();
        expect((await first).status).toBe(200);
        started = reserveStarts();
        const call = charge();
        await started;
        await admin.revokeKey(session.id);
        release();
        const response = await call;
        expect(response.keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
        expect(upstream.received).toHaveLength(1);
        expect(await admin.getKeyStatus(member.id)).toMatchObject({
          spentMicros: 3_000_000,
          reservedMicros: 0,
          revoked: true,
        });
      } finally {
        await Promise.all([admin.close(), serving.close()]);
      }
    });
  });

  describe('when a key is revoked after a call on it was checked, before it is reserved', () => {
    it('should refuse the reservation in the reserve script itself, and send nothing', async () => {
      upstream.received.length = 0;
      const prefix = `test:${randomUUID()}:`;
      const admin = makeVault(prefix).vault;
      const storage = createRedisStorage({ url: redis.url, prefix, onAuditError: () => {} });
      expect(storage.keyStore.revocationsCheckedBy).toBe(storage.ledger);
      // The serving replica's key check is answered, then held: the revocation lands after it.
      let holding: Promise<void> | undefined;
      let read = () => {};
      const serving = createVault({
        ...storage,
        keyStore: {
          ...storage.keyStore,
          async getChain(id) {
            const chain = await storage.keyStore.getChain?.(id);
            read();
            await holding;
            return chain;
          },
        },
        ...servingAcme(),
      });
      try {
        const session = await admin.issueKey({ capUsd: 30 });
        const member = await admin.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 20 });
        let release = () => {};
        holding = new Promise<void>((resolve) => (release = resolve));
        const checked = new Promise<void>((resolve) => (read = resolve));
        const call = serving.handle({ vaultKey: member.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
        await checked;
        await admin.revokeKey(session.id);
        holding = undefined;
        release();
        const response = await call;
        expect(response.keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
        expect(upstream.received).toHaveLength(0);
        expect(await admin.getKeyStatus(member.id)).toMatchObject({ spentMicros: 0, reservedMicros: 0, calls: 0 });
      } finally {
        await Promise.all([admin.close(), serving.close()]);
      }
    });
  });

  /**
   * Expects a call refused as revoked, with the upstream at `sent` requests in all and the member
   * key at `calls` settled $3 calls, none still reserved.
   */
  const expectRefusedAsRevoked = async (
    refused: VaultResponse,
    admin: Vault,
    memberId: string,
    { sent, calls }: { sent: number; calls: number },
  ) => {
    expect(refused.keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
    expect(upstream.received).toHaveLength(sent);
    expect(await admin.getKeyStatus(memberId)).toMatchObject({
      spentMicros: calls * 3_000_000,
      reservedMicros: 0,
      calls,
    });
  };

  /** Calls of each Redis command so far (`INFO commandstats`), read through a connection of the test's own. */
  const commandCalls = async (): Promise<Record<string, number>> => {
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const info = await client.info('commandstats');
      return Object.fromEntries(
        [...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map(([, name, calls]) => [name, Number(calls)]),
      );
    } finally {
      client.destroy();
    }
  };

  describe('when a replica serves calls on a key chain it has read before', () => {
    it('should read no key from Redis per call (the reserve script checks revocations) and refuse the call at once once another replica revokes its key', async () => {
      upstream.received.length = 0;
      const prefix = `test:${randomUUID()}:`;
      const admin = makeVault(prefix).vault;
      const serving = createVault({ ...createRedisStorage({ url: redis.url, prefix }), ...servingAcme() });
      try {
        const session = await admin.issueKey({ capUsd: 30 });
        const member = await admin.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 20 });
        const call = () =>
          serving.handle({ vaultKey: member.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
        expect((await call()).status).toBe(200);
        const before = await commandCalls();
        for (let index = 0; index < 4; index++) expect((await call()).status).toBe(200);
        const after = await commandCalls();
        const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
        expect({ get: delta('get'), mget: delta('mget') }).toEqual({ get: 0, mget: 0 });
        expect(delta('evalsha')).toBeGreaterThanOrEqual(2 * 4);

        await admin.revokeKey(session.id);
        await expectRefusedAsRevoked(await call(), admin, member.id, { sent: 5, calls: 5 });
      } finally {
        await Promise.all([admin.close(), serving.close()]);
      }
    });

    /**
     * A vault on its own Redis storage whose acme cost model reads two quotes from the vendor before
     * pricing a charge at $3, by `read` (each read resolves to the quote, or `undefined`).
     */
    const servingWithLookups = (prefix: string, read: ReadQuotes) =>
      createVault({
        ...createRedisStorage({ url: redis.url, prefix }),
        vendors: {
          acme: createBearerVendor({
            name: 'acme',
            baseUrl: upstream.url,
            costModel: {
              async estimate(_request, context) {
                const quotes = await read((path) => context.lookup(path));
                return quotes.includes(undefined)
                  ? { kind: 'unknown', reason: 'a quote could not be read' }
                  : { kind: 'known', micros: 3_000_000 };
              },
              settle: (_request, _response, estimate) =>
                estimate.kind === 'known' ? estimate : { kind: 'unknown', reason: 'unpriced' },
            },
          }),
        },
        secrets: { acme: SECRET },
      });

    it.each<[string, ReadQuotes]>([
      ['one after the other', async (lookup) => [await lookup('/v1/quotes/1'), await lookup('/v1/quotes/2')]],
      [
        'at once, catching their errors',
        async (lookup) => {
          const [first, second] = await Promise.all(
            [1, 2].map((n) => lookup(`/v1/quotes/${n}`).catch(() => undefined)),
          );
          return [first, second];
        },
      ],
      [
        // Both started, then awaited in turn: a rejection of the second before the first settles
        // would be unhandled (and end the process).
        'both started before either is awaited',
        async (lookup) => {
          const first = lookup('/v1/quotes/1');
          const second = lookup('/v1/quotes/2');
          return [await first, await second];
        },
      ],
    ])('should refuse a revoked key before its cost model reads the vendor, when it reads %s', async (_, read) => {
      upstream.received.length = 0;
      const prefix = `test:${randomUUID()}:`;
      const admin = makeVault(prefix).vault;
      const serving = servingWithLookups(prefix, read);
      try {
        const session = await admin.issueKey({ capUsd: 30 });
        const member = await admin.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 20 });
        const call = () =>
          serving.handle({ vaultKey: member.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
        expect((await call()).status).toBe(200);
        expect(upstream.received.map((request) => `${request.method} ${request.url}`).sort()).toEqual([
          'GET /v1/quotes/1',
          'GET /v1/quotes/2',
          'POST /v1/charges',
        ]);

        await admin.revokeKey(session.id);
        // Neither the model's reads nor the call reached the vendor.
        await expectRefusedAsRevoked(await call(), admin, member.id, { sent: 3, calls: 1 });
      } finally {
        await Promise.all([admin.close(), serving.close()]);
      }
    });

    it('should check the key again before each read of the vendor, not only the first', async () => {
      upstream.received.length = 0;
      const prefix = `test:${randomUUID()}:`;
      const admin = makeVault(prefix).vault;
      let between = async () => {};
      const serving = servingWithLookups(prefix, async (lookup) => {
        const first = await lookup('/v1/quotes/1');
        await between();
        return [first, await lookup('/v1/quotes/2')];
      });
      try {
        const member = await admin.issueKey({ vendor: 'acme', capUsd: 20 });
        const call = () =>
          serving.handle({ vaultKey: member.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
        expect((await call()).status).toBe(200);
        upstream.received.length = 0;
        between = async () => {
          await admin.revokeKey(member.id);
        };
        expect((await call()).keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
        expect(upstream.received.map((request) => request.url)).toEqual(['/v1/quotes/1']);
      } finally {
        await Promise.all([admin.close(), serving.close()]);
      }
    });

    it.each<[string, IssueKeyOptions]>([
      ['expired as well', { expiresIn: 1 }],
      ['over its per-call maximum as well', { perCallMaxUsd: 1 }],
      ['calling off its allow-list as well', { allowedEndpoints: ['GET /v1/charges'] }],
    ])(
      'should deny a revoked key as revoked when it is %s, on a replica that read its chain before',
      async (_, policy) => {
        upstream.received.length = 0;
        const prefix = `test:${randomUUID()}:`;
        const admin = makeVault(prefix).vault;
        const serving = createVault({ ...createRedisStorage({ url: redis.url, prefix }), ...servingAcme() });
        try {
          const member = await admin.issueKey({ vendor: 'acme', capUsd: 20, ...policy });
          if (policy.expiresIn !== undefined) await new Promise((resolve) => setTimeout(resolve, 1_100));
          // The serving replica reads (and keeps) the chain on a first call, denied for its policy.
          const call = () =>
            serving.handle({ vaultKey: member.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
          expect((await call()).keybrake.error?.code).not.toBe('KEYBRAKE_KEY_REVOKED');
          await admin.revokeKey(member.id);
          const refused = await call();
          expect(refused.keybrake.error?.code).toBe('KEYBRAKE_KEY_REVOKED');
          const [audited] = (await serving.queryAudit({ keyId: member.id, limit: 1 })).records;
          expect(audited).toMatchObject({ decision: 'denied', reason: 'KEYBRAKE_KEY_REVOKED' });
          expect(upstream.received).toHaveLength(0);
        } finally {
          await Promise.all([admin.close(), serving.close()]);
        }
      },
    );
  });

  describe('when Redis stops and comes back', () => {
    it('should deny calls with 503 KEYBRAKE_STORAGE_ERROR in the vendor’s shape, forward nothing, then recover', async () => {
      upstream.received.length = 0;
      const { vault } = makeVault(`test:${randomUUID()}:`);
      try {
        const key = await vault.issueKey({ vendor: 'acme', capUsd: 30, label: 'outage' });
        const call = () => vault.createFetch({ vaultKey: key.vaultKey })('http://x/v1/charges', { method: 'POST' });
        expect((await call()).status).toBe(200);
        // Its settlement has landed (key status waits for it) before Redis goes away.
        expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(3_000_000);

        await redis.stop();
        const started = Date.now();
        const denied = await call();
        expect(Date.now() - started).toBeLessThan(1000);
        expect(denied.status).toBe(503);
        expect(denied.headers.get('x-keybrake-code')).toBe('KEYBRAKE_STORAGE_ERROR');
        const body = (await denied.json()) as { error: { type: string; code: string; message: string } };
        expect(body.error).toMatchObject({
          type: 'keybrake_error',
          code: 'KEYBRAKE_STORAGE_ERROR',
          message: `Keybrake cannot reach Redis at ${redis.url}; the call is denied.`,
        });
        expect(JSON.stringify(body)).not.toContain(SECRET);
        expect(upstream.received).toHaveLength(1);

        await redis.restart();
        await expect.poll(async () => (await call()).status, { timeout: 5000, interval: 100 }).toBe(200);
        expect(upstream.received).toHaveLength(2);
        // The data survived the restart (append-only file), and the denied call cost nothing.
        expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(6_000_000);
        // The denial's audit record (its key could not be read) was queued and appended after the restart.
        const audit = await vault.queryAudit({ decision: 'denied', limit: 100 });
        expect(audit.records.map((record) => record.reason)).toContain('KEYBRAKE_STORAGE_ERROR');
      } finally {
        await vault.close();
      }
    });
  });
});
