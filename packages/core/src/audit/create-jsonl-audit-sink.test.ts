import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeAuditSinkConformance } from '@keybrake/testkit/conformance';
import { afterAll, describe, expect, it, vi } from 'vitest';
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
  /** A log path whose directory cannot be made until `blocker`, a file in its place, is removed. */
  const blockedPath = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keybrake-audit-'));
    dirs.push(dir);
    const blocker = join(dir, 'logs');
    await writeFile(blocker, 'a file where the directory should be');
    return { blocker, path: join(blocker, 'audit.jsonl') };
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
      const { blocker, path } = await blockedPath();
      const sink = createJsonlAuditSink({ path, onError: () => {} });
      sink.write(record('r1'));
      await expect(sink.flush()).rejects.toThrow(/could not append/);
      await rm(blocker);
      await sink.flush();
      expect((await readFile(path, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);
    });
  });

  describe('when an append fails', () => {
    it('should end the line a failed append tore before the batch is appended again', async () => {
      const path = await tempFile();
      const sink = createJsonlAuditSink({ path, onError: () => {} });
      sink.write(record('r1'));
      await sink.flush();
      // The append fails after part of the batch reached the file (ENOSPC, EFBIG): here the file
      // is out of the way while the append runs, then back with the torn start of the batch.
      const whole = await readFile(path, 'utf8');
      await rm(path);
      await mkdir(path);
      sink.write(record('r2'));
      sink.write(record('r3'));
      await expect(sink.flush()).rejects.toThrow(/could not append/);
      await sink.flush().catch(() => {}); // the drain the writes scheduled has failed too
      await rm(path, { recursive: true });
      await writeFile(path, `${whole}{"id":"r2","time":"2026-11-2`);
      await sink.flush();
      expect((await sink.query({})).records.map((entry) => entry.id)).toEqual(['r3', 'r2', 'r1']);
    });

    it('should append the queued records again on its own, without a flush', async () => {
      const { blocker, path } = await blockedPath();
      const errors: Error[] = [];
      const sink = createJsonlAuditSink({ path, onError: (error) => errors.push(error) });
      sink.write(record('r1'));
      await vi.waitFor(() => expect(errors).toHaveLength(1));
      expect(errors[0]?.message).toMatch(/1 record\(s\) stay queued and are retried/);
      await rm(blocker);
      for (let i = 2; i <= 50; i++) sink.write(record(`r${i}`));
      await vi.waitFor(
        async () => expect((await readFile(path, 'utf8')).split('\n').filter(Boolean)).toHaveLength(50),
        { timeout: 5_000, interval: 50 },
      );
      expect(errors).toHaveLength(1);
      await sink.close?.();
    });

    it('should stop trying once closed, and report records written after that as lost', async () => {
      const { blocker, path } = await blockedPath();
      const errors: Error[] = [];
      const sink = createJsonlAuditSink({ path, onError: (error) => errors.push(error) });
      sink.write(record('r1'));
      await expect(sink.close?.()).rejects.toThrow(/could not append/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const reported = errors.length;
      await rm(blocker);
      sink.write(record('r2'));
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      expect(errors.map((error) => error.message).slice(reported)).toEqual([
        "Keybrake's JSONL audit sink is closed; audit record r2 was lost.",
      ]);
      await expect(readFile(path, 'utf8')).rejects.toThrow(/ENOENT/);
    });

    it('should drop the oldest queued records past maxQueued, and say so', async () => {
      const { blocker, path } = await blockedPath();
      const errors: Error[] = [];
      const sink = createJsonlAuditSink({ path, maxQueued: 3, onError: (error) => errors.push(error) });
      for (let i = 1; i <= 5; i++) sink.write(record(`r${i}`));
      // The blocker goes once the first append has failed: removed while that append's recursive
      // mkdir runs, the mkdir can fail with ENOENT, and the flush would report it.
      await vi.waitFor(() => expect(errors.some((error) => /could not append/.test(error.message))).toBe(true));
      await rm(blocker);
      await sink.flush();
      expect((await sink.query({})).records.map((entry) => entry.id)).toEqual(['r5', 'r4', 'r3']);
      const drops = errors.map((error) => error.message).filter((message) => message.includes('dropped'));
      expect(drops).toEqual([
        expect.stringMatching(/dropped 1 audit record\(s\): more than 3 were waiting/),
        expect.stringMatching(/dropped 1 audit record\(s\): more than 3 were waiting/),
      ]);
      await sink.close?.();
    });
  });

  describe('when a record holds U+2028 or U+2029', () => {
    it('should read it back whole, also from a file written before they were escaped', async () => {
      const path = await tempFile();
      const sink = createJsonlAuditSink({ path });
      // A label pasted from a document title, a tool name from a model.
      sink.write(record('r1', { label: 'Q3 invoices\u2028(retry)' }));
      sink.write(record('r2', { actor: { member: 'billing', tool: 'charge\u2029card' } }));
      await sink.flush();
      expect(await readFile(path, 'utf8')).not.toMatch(/[\u2028\u2029]/);
      await appendFile(path, `${JSON.stringify(record('r3', { label: 'raw\u2028label' }))}\n`);
      const records = (await sink.query({})).records;
      expect(records.map((entry) => entry.id)).toEqual(['r3', 'r2', 'r1']);
      expect(records.map((entry) => entry.label)).toEqual([
        'raw\u2028label',
        'team/sess/billing',
        'Q3 invoices\u2028(retry)',
      ]);
      expect(records[1]?.actor?.tool).toBe('charge\u2029card');
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
