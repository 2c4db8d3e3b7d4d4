import { describeKeyStoreConformance } from '@keybrake/testkit/conformance';
import { describe, expect, it } from 'vitest';
import { makeAuditRecord } from '../test-utils/make-audit-record.js';
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
});
