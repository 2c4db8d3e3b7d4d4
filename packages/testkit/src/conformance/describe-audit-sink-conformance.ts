import type { AuditRecord, AuditSink } from '@keybrake/core';
import { afterEach, describe, expect, it } from 'vitest';
import { smsAuditRecord } from './sms-audit-record.js';

/** Options of {@link describeAuditSinkConformance}. */
export interface AuditSinkConformanceOptions {
  /** Creates a sink for one test; called twice when `shared` is true (two replicas on one backend). */
  create: () => Promise<AuditSink> | AuditSink;
  /** Whether two sinks from `create` share one backend (Redis). @default false */
  shared?: boolean;
}

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
let counter = 0;
const id = (name: string) => `${name}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`;
const at = (second: number) => new Date(NOW + second * 1000).toISOString();
const call = (rootKeyId: string, second: number, extra: Partial<AuditRecord> = {}): AuditRecord =>
  smsAuditRecord({
    id: id('audit'),
    time: at(second),
    keyId: rootKeyId,
    rootKeyId,
    labelChain: ['team/sess'],
    ...extra,
  });

/**
 * The conformance suite every {@link AuditSink} must pass: a record written again with a late
 * price replaces the earlier copy (the highest revision wins, also across replicas), queries give
 * the newest first and at most `limit` with totals over every match, and a session's query never
 * shows another session's calls.
 */
export function describeAuditSinkConformance(name: string, options: AuditSinkConformanceOptions): void {
  describe(`${name} (audit sink conformance)`, () => {
    const open: AuditSink[] = [];
    const create = async () => {
      const sink = await options.create();
      open.push(sink);
      return sink;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map(async (sink) => sink.close?.()));
    });

    it('should keep one copy of a record written again with a late price', async () => {
      const sink = await create();
      const session = id('sess');
      const first = call(session, 0);
      const repriced = { ...first, actualMicros: 16_600, revision: 1 };
      sink.write(first);
      sink.write(repriced);
      await sink.flush();
      const { records, totals } = await sink.query({ rootKeyId: session });
      expect(records).toEqual([repriced]);
      expect(totals).toEqual([expect.objectContaining({ keyId: session, calls: 1, spentMicros: 16_600 })]);
    });

    // Only for sinks whose replicas share a backend; the others have no second replica to ask.
    if (options.shared)
      it('should keep the highest revision whichever replica wrote last', async () => {
        const [late, behind] = [await create(), await create()];
        const session = id('sess');
        const first = call(session, 0);
        const repriced = { ...first, actualMicros: 16_600, revision: 1 };
        late.write(repriced);
        await late.flush();
        behind.write(first);
        await behind.flush();
        for (const sink of [late, behind])
          expect((await sink.query({ rootKeyId: session })).records).toEqual([repriced]);
      });

    it('should give the newest first, at most limit, with totals over every match', async () => {
      const sink = await create();
      const session = id('sess');
      for (const second of [3, 1, 4, 0, 2]) sink.write(call(session, second));
      await sink.flush();
      const { records, totals } = await sink.query({ rootKeyId: session, limit: 3 });
      expect(records.map((record) => record.time)).toEqual([at(4), at(3), at(2)]);
      expect(totals).toEqual([expect.objectContaining({ keyId: session, calls: 5, spentMicros: 5 * 8_300 })]);
      expect((await sink.query({ rootKeyId: session })).records).toHaveLength(5);
    });

    it('should give a session its own records only', async () => {
      const sink = await create();
      const session = id('sess');
      const mine = [call(session, 0), call(session, 1, { keyId: id('child') })];
      // Another session whose id starts with this one's, and one whose calling key bears this id.
      const others = [call(`${session}0`, 2), call(id('other'), 3, { keyId: session })];
      for (const record of [...mine, ...others]) sink.write(record);
      await sink.flush();
      const { records } = await sink.query({ rootKeyId: session });
      expect(records.map((record) => record.id).sort()).toEqual(mine.map((record) => record.id).sort());
    });
  });
}
