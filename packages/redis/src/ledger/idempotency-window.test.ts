import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../testing/start-redis-server.js';
import { createRedisLedger } from './create-redis-ledger.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.close());

// ledger-scripts.ts reserve: `PEXPIRE idemKey window` — a shorter Redis TTL forgets the key early,
// and a retry after it is charged again (no test waits long enough to see it happen).
it('should keep an idempotency key in Redis for the whole 24-hour window', async () => {
  const prefix = `test:${randomUUID()}:`;
  const ledger = createRedisLedger({ url: redis.url, prefix });
  const admin = createClient({ url: redis.url });
  await admin.connect();
  try {
    const now = Date.UTC(2026, 10, 26, 12);
    await ledger.reserve({
      reservationId: 'r1',
      chain: [{ keyId: 'k' }],
      micros: 5,
      now,
      ttlMs: 60_000,
      idempotencyKey: 'idem',
    });
    const ttl = await admin.pTTL(`${prefix}ledger:idem:k:idem`);
    expect(ttl).toBeGreaterThan(86_400_000 - 5_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
  } finally {
    await admin.quit();
    await ledger.close?.();
  }
});
