import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisLedger } from '../ledger/create-redis-ledger.js';
import { type RedisServer, startRedisServer } from '../testing/start-redis-server.js';
import { openRedisConnection } from './open-redis-connection.js';
import { redactRedisUrl } from './redact-redis-url.js';

const NOW = Date.UTC(2026, 10, 26, 12);

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.close());

describe('redactRedisUrl', () => {
  describe('when the URL carries credentials', () => {
    it('should keep scheme, host, port and database only', () => {
      expect(redactRedisUrl('redis://user:hunter2@10.0.0.5:6380/2')).toBe('redis://10.0.0.5:6380/2');
      expect(redactRedisUrl('rediss://:hunter2@cache.internal')).toBe('rediss://cache.internal');
      expect(redactRedisUrl('not a url :hunter2')).toBe('a Redis URL that cannot be parsed');
    });
  });
});

describe('openRedisConnection', () => {
  describe('when given a client the caller owns', () => {
    it('should use it and leave it open on close', async () => {
      const client = createClient({ url: redis.url });
      await client.connect();
      try {
        const ledger = createRedisLedger({ client, prefix: `test:${randomUUID()}:` });
        await ledger.reserve({ reservationId: 'r', chain: [{ keyId: 'k' }], micros: 7, now: NOW, ttlMs: 1000 });
        expect((await ledger.balance('k', NOW)).reservedMicros).toBe(7);
        await ledger.close?.();
        expect(await client.ping()).toBe('PONG');
      } finally {
        await client.close();
      }
    });
  });

  describe('when given a client from another install of @redis/client (an app on its own `redis` version)', () => {
    // A copy of @redis/client outside this package's node_modules: its error classes are not ours.
    let otherCopy: string;
    let other: typeof import('@redis/client');
    beforeAll(async () => {
      const require = createRequire(import.meta.url);
      const installed = dirname(realpathSync(require.resolve('@redis/client/package.json')));
      otherCopy = mkdtempSync(join(tmpdir(), 'keybrake-redis-client-'));
      const target = join(otherCopy, 'node_modules', '@redis', 'client');
      mkdirSync(dirname(target), { recursive: true });
      cpSync(installed, target, {
        recursive: true,
        dereference: true,
        filter: (source) => !source.endsWith('.map') && !source.endsWith('.d.ts'),
      });
      symlinkSync(
        realpathSync(join(installed, '..', '..', 'cluster-key-slot')),
        join(otherCopy, 'node_modules', 'cluster-key-slot'),
      );
      other = await import(pathToFileURL(join(target, 'dist', 'index.js')).href);
    });
    afterAll(() => rmSync(otherCopy, { recursive: true, force: true }));

    it('should load its scripts on a Redis that does not have them yet', async () => {
      const fresh = await startRedisServer();
      const client = other.createClient({ url: fresh.url });
      await client.connect();
      try {
        const ledger = createRedisLedger({ client, prefix: `test:${randomUUID()}:` });
        await expect(
          ledger.reserve({
            reservationId: 'r',
            chain: [{ keyId: 'k', capMicros: 10 }],
            micros: 7,
            now: NOW,
            ttlMs: 1000,
          }),
        ).resolves.toMatchObject({ ok: true });
        expect((await ledger.balance('k', NOW)).reservedMicros).toBe(7);
        await ledger.close?.();
      } finally {
        await client.close();
        await fresh.close();
      }
    });

    it('should report a refusal by Redis as one, not as Redis being unreachable', async () => {
      // Out of memory under noeviction: every write is refused with OOM.
      const full = await startRedisServer({ args: ['--maxmemory', '1'] });
      const client = other.createClient({ url: full.url });
      await client.connect();
      try {
        const ledger = createRedisLedger({ client, prefix: `test:${randomUUID()}:` });
        await expect(
          ledger.reserve({ reservationId: 'r', chain: [{ keyId: 'k' }], micros: 1, now: NOW, ttlMs: 1000 }),
        ).rejects.toMatchObject({
          code: 'KEYBRAKE_STORAGE_ERROR',
          message: expect.stringMatching(
            new RegExp(`^Redis at ${full.url} refused to reserve a call \\(OOM .*\\); the call is denied\\.$`),
          ),
        });
        await ledger.close?.();
      } finally {
        await client.close();
        await full.close();
      }
    });
  });

  describe('when Redis stops answering', () => {
    it('should answer under a commandTimeout longer than a Node timer can hold', async () => {
      const ledger = createRedisLedger({ url: redis.url, prefix: `test:${randomUUID()}:`, commandTimeout: '30d' });
      try {
        await expect(ledger.balance('k', Date.UTC(2026, 10, 27))).resolves.toMatchObject({ spentMicros: 0 });
      } finally {
        await ledger.close?.();
      }
    });

    it('should deny after commandTimeout instead of hanging, and work again once Redis answers', async () => {
      const ledger = createRedisLedger({ url: redis.url, prefix: `test:${randomUUID()}:`, commandTimeout: '200ms' });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        await ledger.balance('k', NOW);
        await admin.clientPause(600);
        const started = Date.now();
        await expect(ledger.balance('k', NOW)).rejects.toMatchObject({
          code: 'KEYBRAKE_STORAGE_ERROR',
          message: `Keybrake cannot reach Redis at ${redis.url} (no answer within 200 ms); the call is denied.`,
        });
        expect(Date.now() - started).toBeLessThan(500);
        await new Promise((resolve) => setTimeout(resolve, 700));
        expect((await ledger.balance('k', NOW)).calls).toBe(0);
      } finally {
        await ledger.close?.();
        await admin.close();
      }
    });

    it('should never send a command that timed out while the eviction policy was read, after a reconnection', async () => {
      const client = createClient({ url: redis.url });
      await client.connect();
      const admin = createClient({ url: redis.url });
      await admin.connect();
      const ledger = createRedisLedger({ client, prefix: `test:${randomUUID()}:`, commandTimeout: '300ms' });
      try {
        await ledger.reserve({
          reservationId: 'r',
          chain: [{ keyId: 'k', capMicros: 10_000_000 }],
          micros: 1_000_000,
          now: NOW,
          ttlMs: 600_000,
        });
        // The connection drops and comes back (a network blip, a failover): the policy is read again first.
        const ready = new Promise((resolve) => client.once('ready', resolve));
        await admin.clientKill({ filter: 'ID', id: await client.clientId() });
        await ready;
        await admin.clientPause(1200);
        let lateSettled = false;
        const error = await ledger
          .settle({
            reservationId: 'r',
            micros: 3_000_000,
            now: NOW,
            onLateSettle: () => {
              lateSettled = true;
            },
          })
          .catch((caught: unknown) => caught);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        // Once Redis answers, the settlement the vault was told failed does not run after all: the
        // reservation is still open at its estimate, as the vault's audit record says.
        expect(await ledger.balance('k', NOW)).toMatchObject({ spentMicros: 0, reservedMicros: 1_000_000 });
        expect(lateSettled).toBe(false);
        expect(error).toMatchObject({
          code: 'KEYBRAKE_STORAGE_ERROR',
          message: `Keybrake cannot reach Redis at ${redis.url} (no answer within 300 ms to the read of its eviction policy, so nothing was sent to settle a call); the call was sent, and its reservation stays open and expires into spend at its estimate, unless this settlement reaches Redis late.`,
        });
      } finally {
        await ledger.close?.();
        await Promise.all([client.close(), admin.close()]);
      }
    });
  });

  describe('when the URL or the password is wrong', () => {
    it('should say so without ever showing the password', async () => {
      const guarded = await startRedisServer({ args: ['--requirepass', 'right-password'] });
      const port = guarded.port;
      const wrong = createRedisLedger({ url: `redis://:hunter2@127.0.0.1:${port}`, connectTimeout: '500ms' });
      const right = createRedisLedger({ url: `redis://:right-password@127.0.0.1:${port}` });
      try {
        const error = await wrong.balance('k', NOW).catch((caught: unknown) => caught);
        expect(error).toMatchObject({ code: 'KEYBRAKE_STORAGE_ERROR' });
        expect((error as Error).message).toMatch(
          new RegExp(
            `^Keybrake cannot reach Redis at redis://127.0.0.1:${port} \\(WRONGPASS .*\\); the call is denied.$`,
          ),
        );
        expect((error as Error).message).not.toContain('hunter2');
        expect((await right.balance('k', NOW)).calls).toBe(0);
        expect(() => openRedisConnection({ url: 'http://user:hunter2@host:1' })).toThrow(
          /^Keybrake cannot use the Redis URL http:\/\/host:1: it is malformed\.$/,
        );
        expect(() => openRedisConnection({ url: 'not a url :hunter2' })).toThrow(
          /^Keybrake cannot use the Redis URL: it cannot be parsed as a URL\.$/,
        );
      } finally {
        await Promise.all([wrong.close?.(), right.close?.()]);
        await guarded.close();
      }
    });
  });

  describe('when closed before its connection is ready', () => {
    it('should leave no connection open (a process would never exit)', async () => {
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        const clients = async () => (await admin.clientList()).length;
        const before = await clients();
        for (let attempt = 0; attempt < 3; attempt++) {
          const ledger = createRedisLedger({ url: redis.url, prefix: `test:${randomUUID()}:` });
          await ledger.close?.();
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(await clients()).toBe(before);
      } finally {
        await admin.close();
      }
    });
  });

  describe("when Redis may evict Keybrake's keys under memory pressure (any maxmemory-policy but noeviction)", () => {
    it('should refuse every operation, fail closed, and say how to fix it; noeviction is fine', async () => {
      const evicting = await startRedisServer({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] });
      // Spend totals and revocation markers carry a TTL (until 8 days after their key expires), so
      // volatile-* policies may evict them too.
      const volatile = await startRedisServer({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-ttl'] });
      const keeping = await startRedisServer({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'] });
      const unsafe = openRedisConnection({ url: evicting.url });
      const alsoUnsafe = openRedisConnection({ url: volatile.url });
      const safe = openRedisConnection({ url: keeping.url });
      try {
        await expect(unsafe.run('reserve a call', (client) => client.ping())).rejects.toMatchObject({
          code: 'KEYBRAKE_STORAGE_ERROR',
          message: expect.stringMatching(
            /may evict Keybrake's keys \(maxmemory-policy allkeys-lru\).*Set maxmemory-policy to noeviction;.*the call is denied\.$/,
          ),
        });
        await expect(alsoUnsafe.run('reserve a call', (client) => client.ping())).rejects.toMatchObject({
          code: 'KEYBRAKE_STORAGE_ERROR',
          message: expect.stringContaining('(maxmemory-policy volatile-ttl)'),
        });
        expect(await safe.run('reserve a call', (client) => client.ping())).toBe('PONG');
        // The whole vault fails closed with it: a Redis ledger on that server denies the reservation.
        const ledger = createRedisLedger({ url: evicting.url, prefix: `test:${randomUUID()}:` });
        await expect(
          ledger.reserve({
            reservationId: 'r1',
            chain: [{ keyId: 'k', capMicros: 10 }],
            micros: 1,
            now: 0,
            ttlMs: 1000,
          }),
        ).rejects.toMatchObject({ code: 'KEYBRAKE_STORAGE_ERROR' });
        await ledger.close?.();
      } finally {
        await Promise.all([unsafe.release(), alsoUnsafe.release(), safe.release()]);
        await Promise.all([evicting.close(), volatile.close(), keeping.close()]);
      }
    });
  });

  describe('when closed', () => {
    it('should refuse further commands with a StorageError', async () => {
      const connection = openRedisConnection({ url: redis.url });
      await connection.release();
      await expect(connection.run('ping', (client) => client.ping())).rejects.toMatchObject({
        code: 'KEYBRAKE_STORAGE_ERROR',
      });
    });
  });
});
