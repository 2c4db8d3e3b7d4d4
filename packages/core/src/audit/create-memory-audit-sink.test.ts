import { describeAuditSinkConformance } from '@keybrake/testkit/conformance';
import { describe, expect, it } from 'vitest';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { makeAuditRecord } from '../test-utils/make-audit-record.js';
import { createMemoryAuditSink } from './create-memory-audit-sink.js';

const ids = async (sink: ReturnType<typeof createMemoryAuditSink>) =>
  (await sink.query({ limit: 1_000 })).records.map((record) => record.id);

describeAuditSinkConformance('createMemoryAuditSink', { create: () => createMemoryAuditSink() });

describe('createMemoryAuditSink', () => {
  describe('when more records arrive than it keeps', () => {
    it('should drop the oldest and keep the newest, again and again around the ring', async () => {
      const sink = createMemoryAuditSink({ maxRecords: 3 });
      for (let index = 1; index <= 8; index++) sink.write(makeAuditRecord(`r${index}`));
      expect(await ids(sink)).toEqual(['r8', 'r7', 'r6']);
      const { totals } = await sink.query({});
      expect(totals).toEqual([expect.objectContaining({ calls: 3, spentMicros: 15_000_000 })]);
    });
  });

  describe('when a record is written again with the same id (a late price)', () => {
    it('should replace it in place, counted once, even after the ring has wrapped', async () => {
      const sink = createMemoryAuditSink({ maxRecords: 3 });
      for (let index = 1; index <= 4; index++) sink.write(makeAuditRecord(`r${index}`));
      sink.write(makeAuditRecord('r3', { actualMicros: 8_300, note: 'reconciled' }));
      expect(await ids(sink)).toEqual(['r4', 'r3', 'r2']);
      const [, reconciled] = (await sink.query({})).records;
      expect(reconciled).toMatchObject({ id: 'r3', actualMicros: 8_300, note: 'reconciled' });
      sink.write(makeAuditRecord('r5'));
      expect(await ids(sink)).toEqual(['r5', 'r4', 'r3']);
    });
  });

  describe('when records are changed after they were written or read', () => {
    it('should keep what was written, and answer queries by session or key with only their records', async () => {
      const sink = createMemoryAuditSink();
      const written = makeAuditRecord('r1', { rootKeyId: 'kbk_a', keyId: 'kbk_a1' });
      sink.write(written);
      sink.write(makeAuditRecord('r2', { rootKeyId: 'kbk_b', keyId: 'kbk_b1' }));
      written.actualMicros = 0;
      written.labelChain.push('tampered');
      const [read] = (await sink.query({ rootKeyId: 'kbk_a' })).records;
      expect(read).toEqual(makeAuditRecord('r1', { rootKeyId: 'kbk_a', keyId: 'kbk_a1' }));
      if (read) read.actualMicros = 1;
      expect((await sink.query({ keyId: 'kbk_a1' })).records).toEqual([
        makeAuditRecord('r1', { rootKeyId: 'kbk_a', keyId: 'kbk_a1' }),
      ]);
      expect((await sink.query({ keyId: 'kbk_b1' })).records.map((record) => record.id)).toEqual(['r2']);
      expect((await sink.query({ rootKeyId: 'kbk_missing' })).records).toEqual([]);
    });
  });

  describe('when it is asked for a time range written without an offset', () => {
    it('should read the times as UTC, as the records are, whatever the process time zone', async () => {
      const zone = process.env.TZ;
      process.env.TZ = 'Asia/Tokyo';
      try {
        const sink = createMemoryAuditSink();
        for (let second = 1; second <= 9; second++) sink.write(makeAuditRecord(`r${second}`));
        const range = await sink.query({ since: '2026-11-26T12:00:03', until: '2026-11-26 12:00:06.000' });
        expect(range.records.map((record) => record.id)).toEqual(['r5', 'r4', 'r3']);
        expect((await sink.query({ since: '2026-11-26T21:00:08+09:00' })).records).toHaveLength(2);
      } finally {
        if (zone === undefined) delete process.env.TZ;
        else process.env.TZ = zone;
      }
    });
  });

  describe('when it is given a limit that is not a positive integer', () => {
    it.each([0, -1, 1.5, Number.NaN])('should refuse maxRecords %s', (maxRecords) => {
      expect(() => createMemoryAuditSink({ maxRecords })).toThrow(InvalidPolicyError);
    });
  });
});
