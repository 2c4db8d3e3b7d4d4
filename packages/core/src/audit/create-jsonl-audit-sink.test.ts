import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeAuditSinkConformance } from '@keybrake/testkit/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { makeAuditRecord } from '../test-utils/make-audit-record.js';
import { createJsonlAuditSink, readJsonlAuditRecords } from './create-jsonl-audit-sink.js';

const record = makeAuditRecord;

const conformanceDirs: string[] = [];
afterAll(() => Promise.all(conformanceDirs.map((dir) => rm(dir, { recursive: true, force: true }))));
describeAuditSinkConformance('createJsonlAuditSink', {
  create: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keybrake-audit-conformance-'));
    conformanceDirs.push(dir);
    return createJsonlAuditSink({ path: join(dir, 'audit.jsonl') });
  },
});

describe('createJsonlAuditSink', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));
  const tempFile = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keybrake-audit-'));
    dirs.push(dir);
    return join(dir, 'nested', 'audit.jsonl');
  };

  describe('when the process restarts', () => {
    it('should keep every flushed record and let a later line supersede an earlier one', async () => {
      const path = await tempFile();
      const first = createJsonlAuditSink({ path });
      first.write(record('r1'));
      first.write(record('r2', { decision: 'denied', reason: 'KEYBRAKE_CAP_EXCEEDED', actualMicros: 0 }));
      first.write(record('r3', { actualMicros: 8_300 }));
      await first.flush();
      first.write(record('r3', { actualMicros: 10_000, note: 'reconciled' }));
      await first.close?.();

      await appendFile(path, '{"id":"torn'); // a crash mid-line
      const second = createJsonlAuditSink({ path });
      const { records, totals, memberTotals } = await second.query({ rootKeyId: 'kbk_session' });
      expect(records.map((entry) => entry.id)).toEqual(['r3', 'r2', 'r1']);
      expect(records[0]).toMatchObject({ actualMicros: 10_000, note: 'reconciled' });
      expect(totals).toEqual([
        { keyId: 'kbk_member', label: 'team/sess/billing', calls: 3, allowed: 2, denied: 1, spentMicros: 5_010_000 },
      ]);
      expect(memberTotals).toEqual([{ member: 'billing', calls: 3, allowed: 2, denied: 1, spentMicros: 5_010_000 }]);
      expect((await readFile(path, 'utf8')).split('\n').filter(Boolean)).toHaveLength(5);
    });

    it('should end a torn last line before appending, so the first new record is kept', async () => {
      const path = await tempFile();
      const first = createJsonlAuditSink({ path });
      first.write(record('r1'));
      await first.close?.();
      await appendFile(path, '{"id":"r2","time":"2026-11-2'); // a crash mid-append
      const second = createJsonlAuditSink({ path });
      second.write(record('r3'));
      await second.flush();
      expect((await second.query({})).records.map((entry) => entry.id)).toEqual(['r3', 'r1']);
    });

    it('should retry creating its directory on the next flush', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'keybrake-audit-'));
      dirs.push(dir);
      const blocker = join(dir, 'logs');
      await writeFile(blocker, 'a file where the directory should be');
      const path = join(blocker, 'audit.jsonl');
      const sink = createJsonlAuditSink({ path, onError: () => {} });
      sink.write(record('r1'));
      await expect(sink.flush()).rejects.toThrow(/could not append/);
      await rm(blocker);
      await sink.flush();
      expect((await readFile(path, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);
    });
  });

  describe('when records of several replicas are merged', () => {
    it('should read them together, skipping missing files', async () => {
      const [a, b] = [await tempFile(), await tempFile()];
      const sinkA = createJsonlAuditSink({ path: a });
      const sinkB = createJsonlAuditSink({ path: b });
      sinkA.write(record('r1'));
      sinkB.write(record('r2', { vendor: 'twilio' }));
      await Promise.all([sinkA.flush(), sinkB.flush()]);
      const merged = await readJsonlAuditRecords([a, b, join(tmpdir(), 'missing.jsonl')]);
      expect(merged.map((entry) => entry.id).sort()).toEqual(['r1', 'r2']);
    });

    it("should keep a late price written by another replica, whatever the files' order", async () => {
      const [a, b] = [await tempFile(), await tempFile()];
      const sinkA = createJsonlAuditSink({ path: a });
      const sinkB = createJsonlAuditSink({ path: b });
      sinkA.write(record('r1', { vendor: 'twilio', estimatedMicros: 8_300, actualMicros: 8_300 }));
      sinkB.write(record('r1', { vendor: 'twilio', estimatedMicros: 8_300, actualMicros: 7_900, revision: 1 }));
      await Promise.all([sinkA.flush(), sinkB.flush()]);
      for (const order of [
        [a, b],
        [b, a],
      ])
        expect((await readJsonlAuditRecords(order))[0]?.actualMicros).toBe(7_900);
    });
  });
});
