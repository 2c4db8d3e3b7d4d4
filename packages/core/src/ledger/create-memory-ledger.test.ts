import { describeLedgerConformance } from '@keybrake/testkit/conformance';
import { describe, expect, it } from 'vitest';
import { createMemoryLedger } from './create-memory-ledger.js';
import { DAY_MS, EXPIRED_KEY_RETENTION_MS } from './ledger.js';

describeLedgerConformance('createMemoryLedger', { create: () => createMemoryLedger(), propertyRuns: 100 });

describe('createMemoryLedger', () => {
  describe('when a key has been expired for longer than the retention', () => {
    const NOW = Date.UTC(2026, 10, 26, 12);
    const HOUR = 3_600_000;
    const expiresAt = NOW + HOUR;
    const chain = [
      { keyId: 'member', capMicros: 1_000, expiresAt },
      { keyId: 'session', capMicros: 5_000, expiresAt: expiresAt + 10 * DAY_MS },
    ];

    it('should keep its totals until the end of the retention, then forget them but not its parent’s', async () => {
      const ledger = createMemoryLedger();
      await ledger.reserve({ reservationId: 'r1', chain, micros: 400, now: NOW, ttlMs: 60_000 });
      await ledger.settle({ reservationId: 'r1', micros: 400, now: NOW });
      const justBefore = expiresAt + EXPIRED_KEY_RETENTION_MS - 1;
      expect(await ledger.balance('member', justBefore)).toMatchObject({ spentMicros: 400, calls: 1 });
      // Old entries are dropped at most once an hour.
      const after = justBefore + HOUR;
      expect(await ledger.balance('member', after)).toMatchObject({ spentMicros: 0, calls: 0 });
      expect(await ledger.balance('session', after)).toMatchObject({ spentMicros: 400, calls: 1 });
    });

    it('should not bring a forgotten key back when a late price settles a call of its chain', async () => {
      const ledger = createMemoryLedger();
      await ledger.reserve({ reservationId: 'sms', chain, micros: 400, now: NOW, ttlMs: 60_000 });
      await ledger.settle({ reservationId: 'sms', micros: 400, now: NOW, awaitsLatePrice: true });
      const after = expiresAt + EXPIRED_KEY_RETENTION_MS;
      await ledger.balance('member', after);
      await ledger.settle({ reservationId: 'sms', micros: 900, now: after });
      expect(await ledger.balance('member', after)).toMatchObject({ spentMicros: 0, calls: 0 });
      expect(await ledger.balance('session', after)).toMatchObject({ spentMicros: 900 });
    });

    it('should keep the totals of a key whose limit gives no expiry', async () => {
      const ledger = createMemoryLedger();
      await ledger.reserve({
        reservationId: 'r1',
        chain: [{ keyId: 'k', capMicros: 1_000 }],
        micros: 400,
        now: NOW,
        ttlMs: 1,
      });
      expect(await ledger.balance('k', NOW + 365 * DAY_MS)).toMatchObject({ spentMicros: 400, calls: 1 });
    });
  });
});
