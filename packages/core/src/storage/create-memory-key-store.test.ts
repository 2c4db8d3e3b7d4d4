import { describeKeyStoreConformance } from '@keybrake/testkit/conformance';
import { describe, expect, it } from 'vitest';
import { EXPIRED_KEY_RETENTION_MS } from '../ledger/ledger.js';
import { makeAuditRecord } from '../test-utils/make-audit-record.js';
import { makeKeyRecord } from '../test-utils/make-key-record.js';
import { createMemoryKeyStore } from './create-memory-key-store.js';

describeKeyStoreConformance('createMemoryKeyStore', { create: () => createMemoryKeyStore() });

describe('createMemoryKeyStore', () => {
  describe('when pending prices are never taken', () => {
    it('should hand out live ones and never expired ones, across sweeps', async () => {
      let now = Date.UTC(2026, 10, 26, 12);
      const store = createMemoryKeyStore({ now: () => now });
      await store.putPending('twilio:SM_live', makeAuditRecord('r1'), 3_600_000);
      for (let index = 0; index < 1100; index++)
        await store.putPending(`twilio:SM${index}`, makeAuditRecord('r2'), 1000);
      now += 2000;
      // The next 1024 puts trigger a sweep of the 1100 expired entries; none of them can be taken.
      for (let index = 0; index < 1024; index++)
        await store.putPending(`twilio:SMnew${index}`, makeAuditRecord('r3'), 1000);
      expect(await store.takePending('twilio:SM5')).toBeUndefined();
      expect(await store.takePending('twilio:SMnew5')).toEqual(makeAuditRecord('r3'));
      expect(await store.takePending('twilio:SM_live')).toEqual(makeAuditRecord('r1'));
    });
  });

  describe('when keys have been expired for longer than the retention', () => {
    it('should drop them, and their place among their parent’s children, when a later key is created', async () => {
      const HOUR = 3_600_000;
      const t0 = Date.UTC(2026, 10, 26, 12);
      const store = createMemoryKeyStore();
      const root = makeKeyRecord('kbk_root', { createdAt: t0, lifeMs: 30 * 24 * HOUR });
      const short = makeKeyRecord('kbk_short', { parent: root, createdAt: t0, lifeMs: HOUR });
      const grandchild = makeKeyRecord('kbk_grandchild', { parent: short, createdAt: t0, lifeMs: HOUR });
      for (const record of [root, short, grandchild]) await store.create(record);

      // Still inside the retention: kept.
      await store.create(
        makeKeyRecord('kbk_a', {
          parent: root,
          createdAt: short.expiresAt + EXPIRED_KEY_RETENTION_MS - 1,
          lifeMs: HOUR,
        }),
      );
      expect(await store.get('kbk_short')).toEqual(short);
      expect(await store.children('kbk_root')).toEqual(['kbk_short', 'kbk_a']);

      // A minute later (keys are checked at most once a minute), past it: the short-lived key and its child go.
      await store.create(
        makeKeyRecord('kbk_b', {
          parent: root,
          createdAt: short.expiresAt + EXPIRED_KEY_RETENTION_MS + 60_000,
          lifeMs: HOUR,
        }),
      );
      expect(await store.getMany(['kbk_short', 'kbk_grandchild', 'kbk_root'])).toEqual([undefined, undefined, root]);
      expect(await store.children('kbk_root')).toEqual(['kbk_a', 'kbk_b']);
      expect(await store.children('kbk_short')).toEqual([]);
    });
  });
});
