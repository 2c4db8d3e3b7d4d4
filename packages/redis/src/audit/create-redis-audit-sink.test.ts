import { randomUUID } from 'node:crypto';
import type { AuditRecord, StorageError } from '@keybrake/core';
import { describeAuditSinkConformance } from '@keybrake/testkit/conformance';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../testing/start-redis-server.js';
import { createRedisAuditSink } from './create-redis-audit-sink.js';

const NOW = Date.UTC(2026, 10, 26, 12);

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.close());

const uniqueStream = () => `test:${randomUUID()}:audit`;

// Two sinks of one test are two replicas on one stream (the suite's sessions are unique to each test).
const conformanceStream = uniqueStream();
describeAuditSinkConformance('createRedisAuditSink', {
  create: () => createRedisAuditSink({ url: redis.url, stream: conformanceStream }),
  shared: true,
});
let counter = 0;
const record = (extra: Partial<AuditRecord> = {}): AuditRecord => {
  counter += 1;
  return {
    id: `audit-${counter}`,
    time: new Date(NOW + counter * 1000).toISOString(),
    keyId: 'kbk_billing',
    rootKeyId: 'kbk_session',
    label: 'team/billing',
    labelChain: ['team/billing', 'team'],
    vendor: 'acme',
    method: 'POST',
    path: '/v1/charges',
    decision: 'allowed',
    outcome: 'settled',
    estimatedMicros: 3_000_000,
    actualMicros: 3_000_000,
    latencyMs: 4.5,
    ...extra,
  };
};

describe('createRedisAuditSink', () => {
  describe('when replicas write to one stream', () => {
    it('should return every replica’s records newest first, with totals per key', async () => {
      const stream = uniqueStream();
      const [a, b] = [
        createRedisAuditSink({ url: redis.url, stream }),
        createRedisAuditSink({ url: redis.url, stream }),
      ];
      try {
        const first = record();
        const second = record({ keyId: 'kbk_notify', label: 'team/notify', actualMicros: 1_000_000 });
        const denied = record({ decision: 'denied', reason: 'KEYBRAKE_CAP_EXCEEDED', actualMicros: 0 });
        a.write(first);
        b.write(second);
        a.write(denied);
        await Promise.all([a.flush(), b.flush()]);
        const result = await b.query({ rootKeyId: 'kbk_session' });
        expect(result.records).toEqual([denied, second, first]);
        expect(result.totals).toEqual(
          expect.arrayContaining([
            { keyId: 'kbk_billing', label: 'team/billing', calls: 2, allowed: 1, denied: 1, spentMicros: 3_000_000 },
            { keyId: 'kbk_notify', label: 'team/notify', calls: 1, allowed: 1, denied: 0, spentMicros: 1_000_000 },
          ]),
        );
        expect((await a.query({ decision: 'denied' })).records).toEqual([denied]);
        expect((await a.query({ keyId: 'kbk_notify' })).records).toEqual([second]);
        expect((await a.query({ limit: 1 })).records).toEqual([denied]);
        expect((await a.query({ rootKeyId: 'kbk_other' })).records).toEqual([]);
      } finally {
        await Promise.all([a.close?.(), b.close?.()]);
      }
    });

    it('should let a re-written record (a late price) supersede the earlier one, even from another replica', async () => {
      const stream = uniqueStream();
      const [a, b] = [
        createRedisAuditSink({ url: redis.url, stream }),
        createRedisAuditSink({ url: redis.url, stream }),
      ];
      try {
        const original = record({ actualMicros: 8_300, estimatedMicros: 8_300 });
        a.write(original);
        await a.flush();
        const reconciled = { ...original, actualMicros: 16_600, note: "reconciled to the vendor's price" };
        b.write(reconciled);
        await b.flush();
        for (const query of [{ rootKeyId: 'kbk_session' }, {}]) {
          const result = await a.query(query);
          expect(result.records).toEqual([reconciled]);
          expect(result.totals[0]?.spentMicros).toBe(16_600);
        }
      } finally {
        await Promise.all([a.close?.(), b.close?.()]);
      }
    });

    it('should keep the highest revision when a replica behind on its queue appends the earlier one last', async () => {
      const stream = uniqueStream();
      const [a, b] = [
        createRedisAuditSink({ url: redis.url, stream }),
        createRedisAuditSink({ url: redis.url, stream }),
      ];
      try {
        const original = record({ actualMicros: 50_000, estimatedMicros: 50_000 });
        const reconciled = { ...original, actualMicros: 7_900, revision: 1, note: "reconciled to the vendor's price" };
        b.write(reconciled);
        await b.flush();
        a.write(original); // revision 0, reaching the stream after revision 1
        await a.flush();
        for (const query of [{ rootKeyId: 'kbk_session' }, {}]) {
          const result = await b.query(query);
          expect(result.records).toEqual([reconciled]);
          expect(result.totals[0]?.spentMicros).toBe(7_900);
        }
      } finally {
        await Promise.all([a.close?.(), b.close?.()]);
      }
    });
  });

  describe('when calls land in the same millisecond', () => {
    it('should order them newest first, as the other sinks do, so a limit keeps the same records', async () => {
      const sink = createRedisAuditSink({ url: redis.url, stream: uniqueStream() });
      try {
        const time = new Date(NOW).toISOString();
        const [first, second, third] = [record({ time }), record({ time }), record({ time })];
        for (const entry of [first, second, third]) sink.write(entry);
        await sink.flush();
        expect((await sink.query({})).records.map((entry) => entry.id)).toEqual([third?.id, second?.id, first?.id]);
        expect((await sink.query({ limit: 1 })).records.map((entry) => entry.id)).toEqual([third?.id]);
      } finally {
        await sink.close?.();
      }
    });
  });

  describe('when a session calls again after its index expired', () => {
    it('should still find its older records, from the main stream', async () => {
      const sink = createRedisAuditSink({ url: redis.url, stream: uniqueStream(), sessionIndexTtl: 0.3 });
      try {
        const old = record();
        sink.write(old);
        await sink.flush();
        await new Promise((resolve) => setTimeout(resolve, 500)); // the index expires
        const fresh = record();
        sink.write(fresh);
        await sink.flush();
        const session = await sink.query({ rootKeyId: 'kbk_session' });
        expect(session.records.map((entry) => entry.id)).toEqual([fresh.id, old.id]);
        expect(session.totals[0]?.calls).toBe(2);
      } finally {
        await sink.close?.();
      }
    });

    it('should remember the session as seen for at least 400 days, however short its index lives', async () => {
      const stream = uniqueStream();
      const sink = createRedisAuditSink({ url: redis.url, stream, sessionIndexTtl: 0.05 });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        sink.write(record());
        await sink.flush();
        // 12 × 50 ms would forget it before a quiet session calls again, and its older records with it.
        expect(await admin.pTTL(`${stream}:root:kbk_session:seen`)).toBeGreaterThan(399 * 86_400_000);
      } finally {
        await admin.quit();
        await sink.close?.();
      }
    });
  });

  describe('when the stream is long', () => {
    it('should page through it, keep the session index, and trim to about maxLen', async () => {
      const stream = uniqueStream();
      const sink = createRedisAuditSink({ url: redis.url, stream, maxLen: 1000 });
      const admin = createClient({ url: redis.url });
      await admin.connect();
      try {
        const pexpires = async () =>
          Number(/cmdstat_pexpire:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
        const pexpiresBefore = await pexpires();
        for (let index = 0; index < 2500; index++)
          sink.write(record({ rootKeyId: index % 5 === 0 ? 'kbk_small' : 'kbk_big' }));
        await sink.flush();
        // Each session's index TTLs (the index and its partial marker) are renewed once per batch
        // (of at most 500), not once per record: 2 sessions × 2 keys × 5 batches at most.
        expect(await pexpires()).toBeGreaterThan(pexpiresBefore);
        expect((await pexpires()) - pexpiresBefore).toBeLessThanOrEqual(2 * 2 * Math.ceil(2500 / 500));
        expect(await admin.xLen(stream)).toBeLessThan(2500);
        expect(await admin.xLen(stream)).toBeGreaterThanOrEqual(1000);
        expect(await admin.xLen(`${stream}:root:kbk_small`)).toBe(500);
        expect(await admin.pTTL(`${stream}:root:kbk_small`)).toBeGreaterThan(29 * 86_400_000);
        const small = await sink.query({ rootKeyId: 'kbk_small', limit: 10_000 });
        expect(small.records).toHaveLength(500);
        expect(small.totals[0]?.calls).toBe(500);
        // With its index gone (expired), a session is found by scanning the main stream.
        await admin.del(`${stream}:root:kbk_small`);
        const scanned = await sink.query({ rootKeyId: 'kbk_small', limit: 10_000 });
        expect(scanned.records.length).toBeGreaterThan(150);
        expect(scanned.records.every((entry) => entry.rootKeyId === 'kbk_small')).toBe(true);
      } finally {
        await sink.close?.();
        await admin.close();
      }
    });
  });

  describe('when calls keep writing records while a flush waits', () => {
    it('should resolve the flush once the records written before it are in Redis', async () => {
      const stream = uniqueStream();
      const sink = createRedisAuditSink({ url: redis.url, stream });
      let writing = true;
      // A steady stream of calls: one record every turn of the event loop, as a busy proxy writes them.
      const writer = (async () => {
        while (writing) {
          sink.write(record());
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      try {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const before = record({ id: 'before-the-flush', keyId: 'kbk_flushed' });
        sink.write(before);
        const flushed = await Promise.race([
          sink.flush().then(() => 'flushed'),
          new Promise((resolve) => setTimeout(resolve, 3000, 'still waiting')),
        ]);
        expect(flushed).toBe('flushed');
        writing = false;
        await writer;
        const { records } = await sink.query({ keyId: 'kbk_flushed' });
        expect(records.map((entry) => entry.id)).toEqual(['before-the-flush']);
      } finally {
        writing = false;
        await writer;
        await sink.close?.();
      }
    });
  });

  describe('when Redis stays unreachable', () => {
    it('should hold at most maxQueued records and report the ones it drops', async () => {
      const errors: StorageError[] = [];
      const sink = createRedisAuditSink({
        url: 'redis://127.0.0.1:1',
        connectTimeout: '100ms',
        maxQueued: 2,
        onError: (error) => errors.push(error),
      });
      try {
        for (let index = 0; index < 3; index++) sink.write(record());
        expect(errors.map((error) => error.message)).toContain(
          'Keybrake dropped 1 audit record(s): more than 2 were waiting for Redis at redis://127.0.0.1:1.',
        );
        await expect(sink.flush()).rejects.toMatchObject({ code: 'KEYBRAKE_STORAGE_ERROR' });
        // Closing cannot retry any more: it says what is lost.
        await expect(sink.close?.()).rejects.toThrow(
          'Keybrake closed its Redis audit sink with 2 audit record(s) it could not write; they are lost.',
        );
      } finally {
        await sink.close?.().catch(() => {});
      }
    });
  });

  describe('when Redis goes away and comes back', () => {
    it('should report the failure, reject flush, keep the records and append them once Redis is back', async () => {
      const own = await startRedisServer();
      const errors: StorageError[] = [];
      const stream = uniqueStream();
      const sink = createRedisAuditSink({ url: own.url, stream, onError: (error) => errors.push(error) });
      try {
        sink.write(record());
        await sink.flush();
        await own.stop();
        const lost = record({ id: 'written-while-down' });
        sink.write(lost);
        await expect(sink.flush()).rejects.toMatchObject({ code: 'KEYBRAKE_STORAGE_ERROR' });
        expect(errors[0]?.message).toBe(
          `Keybrake cannot reach Redis at ${own.url}; 1 audit record(s) stay queued and are retried.`,
        );
        await own.restart();
        await expect
          .poll(
            () =>
              sink.flush().then(
                () => true,
                () => false,
              ),
            { timeout: 5000, interval: 100 },
          )
          .toBe(true);
        expect((await sink.query({})).records.map((entry) => entry.id)).toEqual(['written-while-down']);
      } finally {
        await sink.close?.();
        await own.close();
      }
    });
  });
});
