import { randomUUID } from 'node:crypto';
import { EXPIRED_KEY_RETENTION_MS } from '@keybrake/core';
import { describeLedgerConformance } from '@keybrake/testkit/conformance';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../testing/start-redis-server.js';
import { createRedisLedger } from './create-redis-ledger.js';

const NOW = Date.UTC(2026, 10, 26, 12);
const HOUR = 3_600_000;

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.close());

const uniquePrefix = () => `test:${randomUUID()}:`;

describeLedgerConformance('createRedisLedger', {
  create: () => createRedisLedger({ url: redis.url, prefix: uniquePrefix() }),
});

describe('createRedisLedger', () => {
  describe('when several replicas share one Redis', () => {
    it('should hold a shared cap across ledgers on separate connections', async () => {
      const prefix = uniquePrefix();
      const replicas = [0, 1, 2].map(() => createRedisLedger({ url: redis.url, prefix }));
      try {
        const results = await Promise.all(
          Array.from({ length: 90 }, (_, index) =>
            (replicas[index % 3] ?? replicas[0])?.reserve({
              reservationId: `r${index}`,
              chain: [
                { keyId: `member${index % 2}`, capMicros: 20_000_000 },
                { keyId: 'session', capMicros: 30_000_000 },
              ],
              micros: 1_000_000,
              now: NOW,
              ttlMs: HOUR,
            }),
          ),
        );
        expect(results.filter((result) => result?.ok)).toHaveLength(30);
        expect(await replicas[1]?.balance('session', NOW)).toMatchObject({ reservedMicros: 30_000_000, calls: 30 });
      } finally {
        await Promise.all(replicas.map((ledger) => ledger.close?.()));
      }
    });

    it('should count a reservation left open by a crashed replica as spent after its expiry', async () => {
      const prefix = uniquePrefix();
      const crashed = createRedisLedger({ url: redis.url, prefix });
      const survivor = createRedisLedger({ url: redis.url, prefix });
      try {
        await crashed.reserve({ reservationId: 'open', chain: [{ keyId: 'k' }], micros: 700, now: NOW, ttlMs: 1000 });
        await crashed.close?.();
        expect(await survivor.balance('k', NOW + 999)).toMatchObject({ spentMicros: 0, reservedMicros: 700 });
        expect(await survivor.balance('k', NOW + 1000)).toMatchObject({
          spentMicros: 700,
          reservedMicros: 0,
          dailySpentMicros: 700,
          dailyReservedMicros: 0,
        });
        // A late settlement after expiry still replaces the amount, as in memory.
        await survivor.settle({ reservationId: 'open', micros: 650, now: NOW + 2000 });
        expect(await survivor.balance('k', NOW + 2000)).toMatchObject({ spentMicros: 650, reservedMicros: 0 });
      } finally {
        await survivor.close?.();
      }
    });

    it('should share idempotency keys between replicas', async () => {
      const prefix = uniquePrefix();
      const [a, b] = [createRedisLedger({ url: redis.url, prefix }), createRedisLedger({ url: redis.url, prefix })];
      try {
        const request = { chain: [{ keyId: 'k' }], micros: 5, now: NOW, ttlMs: HOUR, idempotencyKey: 'idem' };
        expect(await a.reserve({ ...request, reservationId: 'first' })).toEqual({ ok: true, reservationId: 'first' });
        expect(await b.reserve({ ...request, reservationId: 'retry', now: NOW + 1 })).toEqual({
          ok: true,
          reservationId: 'retry',
          replayOf: 'first',
          originalOpen: true,
        });
        // Past the 24 h window the same key reserves again.
        const later = NOW + 86_400_001;
        expect(await b.reserve({ ...request, reservationId: 'new', now: later })).toEqual({
          ok: true,
          reservationId: 'new',
        });
      } finally {
        await Promise.all([a.close?.(), b.close?.()]);
      }
    });
  });

  describe('when a key of the chain carries a revocation marker (written by the Redis key store)', () => {
    it.each([
      ['the key itself', 'member'],
      ['its parent', 'team'],
      ['the root', 'session'],
    ])('should refuse the reservation naming %s, and reserve nothing on any key', async (_, revokedId) => {
      const prefix = uniquePrefix();
      const ledger = createRedisLedger({ url: redis.url, prefix });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        const chain = [{ keyId: 'member' }, { keyId: 'team' }, { keyId: 'session', capMicros: 5_000 }];
        await admin.set(`${prefix}revoked:${revokedId}`, String(NOW));
        expect(await ledger.reserve({ reservationId: 'r', chain, micros: 100, now: NOW, ttlMs: HOUR })).toEqual({
          ok: false,
          keyId: revokedId,
          cap: 'revoked',
          limit: 0,
          spent: 0,
          reserved: 0,
        });
        for (const { keyId } of chain) {
          expect(await ledger.balance(keyId, NOW)).toMatchObject({ reservedMicros: 0, calls: 0 });
        }
        expect(await admin.exists([`${prefix}ledger:open`, `${prefix}ledger:reservation:r`])).toBe(0);
      } finally {
        await admin.quit();
        await ledger.close?.();
      }
    });
  });

  describe('when many reservations expired unsettled at once (a replica fleet crashed)', () => {
    it('should sweep at most 256 per script, and every one of them over the next calls', async () => {
      const prefix = uniquePrefix();
      const ledger = createRedisLedger({ url: redis.url, prefix });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        for (let index = 0; index < 300; index++) {
          await ledger.reserve({
            reservationId: `crashed${index}`,
            chain: [{ keyId: 'k' }],
            micros: 1,
            now: NOW,
            ttlMs: 1000,
          });
        }
        // Another key's call sweeps 256 of them; the rest stay counted, as reserved, until swept.
        await ledger.reserve({
          reservationId: 'other',
          chain: [{ keyId: 'other' }],
          micros: 1,
          now: NOW + 2000,
          ttlMs: HOUR,
        });
        expect(await admin.zCard(`${prefix}ledger:open`)).toBe(300 - 256 + 1);
        expect(await ledger.balance('k', NOW + 2000)).toMatchObject({ spentMicros: 300, reservedMicros: 0 });
        expect(await admin.zRange(`${prefix}ledger:open`, 0, -1)).toEqual(['other']);
      } finally {
        await admin.quit();
        await ledger.close?.();
      }
    });

    it('should let a replay re-price its original while the backlog has not reached it', async () => {
      const ledger = createRedisLedger({ url: redis.url, prefix: uniquePrefix() });
      try {
        const reserve = (reservationId: string, keyId: string, now: number, idempotencyKey?: string) =>
          ledger.reserve({ reservationId, chain: [{ keyId }], micros: 700, now, ttlMs: 1000, idempotencyKey });
        for (let index = 0; index < 300; index++) await reserve(`crashed${index}`, `k${index}`, NOW);
        await reserve('original', 'k', NOW + 1, 'idem');
        // The retry's reservation sweeps the oldest 256: the original is still open, past its expiry.
        expect(await reserve('replay', 'k', NOW + 5000, 'idem')).toMatchObject({ replayOf: 'original' });
        expect(await ledger.repriceUnknown?.({ reservationId: 'original', micros: 5000, now: NOW + 5001 })).toBe(4300);
        expect(await ledger.balance('k', NOW + 5002)).toMatchObject({ spentMicros: 5000, reservedMicros: 0 });
      } finally {
        await ledger.close?.();
      }
    });
  });

  describe('when amounts are large', () => {
    it('should keep micro-dollar precision up to 2^53 (no floats, no exponent notation)', async () => {
      const ledger = createRedisLedger({ url: redis.url, prefix: uniquePrefix() });
      try {
        const big = 2 ** 52 + 1;
        await ledger.reserve({ reservationId: 'a', chain: [{ keyId: 'k' }], micros: big, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId: 'a', micros: big - 3, now: NOW });
        await ledger.reserve({
          reservationId: 'b',
          chain: [{ keyId: 'k' }],
          micros: 123_456_789_012_345,
          now: NOW,
          ttlMs: HOUR,
        });
        expect(await ledger.balance('k', NOW)).toEqual({
          spentMicros: big - 3,
          reservedMicros: 123_456_789_012_345,
          dailySpentMicros: big - 3,
          dailyReservedMicros: 123_456_789_012_345,
          calls: 2,
        });
      } finally {
        await ledger.close?.();
      }
    });

    it('should refuse amounts that are not safe non-negative integers', async () => {
      const ledger = createRedisLedger({ url: redis.url, prefix: uniquePrefix() });
      try {
        const reserve = (micros: number) =>
          ledger.reserve({ reservationId: 'x', chain: [{ keyId: 'k' }], micros, now: NOW, ttlMs: HOUR });
        await expect(reserve(1.5)).rejects.toThrow(RangeError);
        await expect(reserve(-1)).rejects.toThrow(RangeError);
        await expect(ledger.settle({ reservationId: 'x', micros: 2 ** 53, now: NOW })).rejects.toThrow(RangeError);
        // A limit that is not a whole number (a damaged record's null or NaN) is not "no limit".
        for (const bad of [null, Number.NaN, -1, 1.5]) {
          for (const field of ['capMicros', 'dailyCapMicros', 'maxCalls'] as const) {
            const chain = [{ keyId: 'k', [field]: bad as unknown as number }];
            await expect(
              ledger.reserve({ reservationId: 'y', chain, micros: 1, now: NOW, ttlMs: HOUR }),
            ).rejects.toThrow(RangeError);
          }
        }
      } finally {
        await ledger.close?.();
      }
    });
  });

  describe('when Redis forgot the scripts', () => {
    it('should load them again after SCRIPT FLUSH', async () => {
      const ledger = createRedisLedger({ url: redis.url, prefix: uniquePrefix() });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        await ledger.balance('k', NOW);
        await admin.scriptFlush();
        const result = await ledger.reserve({
          reservationId: 'r',
          chain: [{ keyId: 'k' }],
          micros: 1,
          now: NOW,
          ttlMs: HOUR,
        });
        expect(result.ok).toBe(true);
      } finally {
        await ledger.close?.();
        await admin.close();
      }
    });
  });

  describe('when Redis is unreachable', () => {
    it('should deny with a StorageError naming the server without its password, and never hang', async () => {
      const ledger = createRedisLedger({ url: 'redis://:hunter2@127.0.0.1:1/0', connectTimeout: '300ms' });
      try {
        const started = Date.now();
        const error = await ledger
          .reserve({ reservationId: 'r', chain: [{ keyId: 'k' }], micros: 1, now: NOW, ttlMs: HOUR })
          .catch((caught: unknown) => caught);
        expect(error).toMatchObject({
          code: 'KEYBRAKE_STORAGE_ERROR',
          status: 503,
          message: 'Keybrake cannot reach Redis at redis://127.0.0.1:1/0; the call is denied.',
        });
        expect(String((error as Error).message)).not.toContain('hunter2');
        expect(Date.now() - started).toBeLessThan(2000);
        // Later calls fail at once, without waiting again.
        const again = Date.now();
        await expect(ledger.balance('k', NOW)).rejects.toMatchObject({ code: 'KEYBRAKE_STORAGE_ERROR' });
        expect(Date.now() - again).toBeLessThan(100);
        // A settlement comes after the call was allowed and sent: its failure does not deny it, and
        // a command that timed out may still run, so the message claims neither.
        await expect(ledger.settle({ reservationId: 'r', micros: 1, now: NOW })).rejects.toMatchObject({
          code: 'KEYBRAKE_STORAGE_ERROR',
          message:
            'Keybrake cannot reach Redis at redis://127.0.0.1:1/0; the call was sent, and its reservation stays open and expires into spend at its estimate, unless this settlement reaches Redis late.',
        });
      } finally {
        await ledger.close?.();
      }
    });

    it('should fail at construction without a URL', () => {
      const saved = process.env.KEYBRAKE_REDIS_URL;
      delete process.env.KEYBRAKE_REDIS_URL;
      try {
        expect(() => createRedisLedger()).toThrow(/KEYBRAKE_REDIS_URL/);
      } finally {
        if (saved !== undefined) process.env.KEYBRAKE_REDIS_URL = saved;
      }
    });
  });

  describe('when keys have been expired for longer than the retention', () => {
    it('should let Redis expire their totals and reservation records then, and sweep their open reservations', async () => {
      const prefix = uniquePrefix();
      const ledger = createRedisLedger({ url: redis.url, prefix });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        // The member's retention ends 300 ms after `now` (on the vault's clock); the session's a day later.
        const expiresAt = NOW + 300 - EXPIRED_KEY_RETENTION_MS;
        const chain = [
          { keyId: 'member', capMicros: 1_000, expiresAt },
          { keyId: 'session', capMicros: 5_000, expiresAt: expiresAt + 24 * HOUR },
        ];
        await ledger.reserve({ reservationId: 'settled', chain, micros: 100, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId: 'settled', micros: 100, now: NOW });
        await ledger.reserve({ reservationId: 'crashed', chain, micros: 200, now: NOW, ttlMs: HOUR });
        const ttl = (name: string) => admin.pTTL(`${prefix}ledger:${name}`);
        const near = (value: number, expected: number) => Math.abs(value - expected) < 5_000;
        expect(near(await ttl('key:session'), 24 * HOUR)).toBe(true);
        expect(near(await ttl('reservation:crashed'), 24 * HOUR)).toBe(true);
        expect(await ttl('key:member')).toBeLessThanOrEqual(300);
        expect(await admin.zRange(`${prefix}ledger:open`, 0, -1)).toEqual(['crashed']);
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(await admin.exists(`${prefix}ledger:key:member`)).toBe(0);
        expect(await ledger.balance('session', NOW)).toMatchObject({ spentMicros: 100, reservedMicros: 200 });

        // The crashed call is swept into spend on the session; the forgotten member is not brought
        // back, and no open reservation is left.
        expect(await ledger.balance('session', NOW + HOUR)).toMatchObject({ spentMicros: 300, reservedMicros: 0 });
        expect(await admin.exists([`${prefix}ledger:key:member`, `${prefix}ledger:open`])).toBe(0);
      } finally {
        await admin.quit();
        await ledger.close?.();
      }
    });

    it('should keep the totals of a key whose limit gives no expiry', async () => {
      const prefix = uniquePrefix();
      const ledger = createRedisLedger({ url: redis.url, prefix });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        await ledger.reserve({
          reservationId: 'r',
          chain: [{ keyId: 'k', capMicros: 1_000 }],
          micros: 1,
          now: NOW,
          ttlMs: HOUR,
        });
        expect(await admin.pTTL(`${prefix}ledger:key:k`)).toBe(-1);
        expect(await admin.pTTL(`${prefix}ledger:reservation:r`)).toBe(-1);
      } finally {
        await admin.quit();
        await ledger.close?.();
      }
    });
  });
});
