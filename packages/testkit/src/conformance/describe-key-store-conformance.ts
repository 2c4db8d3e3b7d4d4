import { type AuditRecord, EXPIRED_KEY_RETENTION_MS, type KeyRecord, type KeyStore } from '@keybrake/core';
import { afterEach, describe, expect, it } from 'vitest';
import { smsAuditRecord } from './sms-audit-record.js';

/** Options of {@link describeKeyStoreConformance}. */
export interface KeyStoreConformanceOptions {
  /**
   * Creates a store for one test. Called twice when `shared` is true: the two stores must see the
   * same records (two processes on one backend). Stores are closed after each test.
   */
  create: () => Promise<KeyStore> | KeyStore;
  /** Whether two stores from `create` share one backend (Redis, a Keyv server). @default false */
  shared?: boolean;
}

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
let counter = 0;
const id = (name: string) => `kbk_${name}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`;

const record = (keyId: string, parent?: KeyRecord, extra: Partial<KeyRecord> = {}): KeyRecord => ({
  id: keyId,
  hash: `sha256-of-${keyId}`,
  mode: 'test',
  vendor: 'stripe',
  parentId: parent?.id,
  ancestorIds: parent ? [parent.id, ...parent.ancestorIds] : [],
  rootId: parent?.rootId ?? keyId,
  label: `team/${keyId}`,
  capMicros: 5_000_000,
  expiresAt: NOW + 3_600_000,
  createdAt: NOW,
  metadata: { team: 'billing', nested: { n: 1 } },
  ...extra,
});

/** The chain as the vault reads it: `getChain` where the store has it, else `get` then `getMany`. */
const readChain = async (store: KeyStore, keyId: string) => {
  if (store.getChain) return store.getChain(keyId);
  const key = await store.get(keyId);
  return key ? [key, ...(await store.getMany(key.ancestorIds))] : undefined;
};

const pendingRecord = (auditId: string): AuditRecord =>
  smsAuditRecord({ id: auditId, time: new Date(NOW).toISOString(), keyId: 'kbk_sms' });

/**
 * The conformance suite every {@link KeyStore} must pass (in memory, Keyv, Redis, your own):
 * records read back as stored, in order, with `undefined` for unknown ids; a key chain read
 * through `getChain` where implemented; children indexed under their parent, also when created
 * concurrently; a revocation that keeps its first time and is seen on the next read; pending
 * prices taken once and forgotten after their TTL.
 *
 * @example
 * ```ts
 * import { createMemoryKeyStore } from '@keybrake/core';
 * import { describeKeyStoreConformance } from '@keybrake/testkit/conformance';
 * describeKeyStoreConformance('memory key store', { create: () => createMemoryKeyStore() });
 * ```
 */
export function describeKeyStoreConformance(name: string, options: KeyStoreConformanceOptions): void {
  describe(`${name} (key store conformance)`, () => {
    const open: KeyStore[] = [];
    const create = async () => {
      const store = await options.create();
      open.push(store);
      return store;
    };
    /** A writer and a reader: two stores on one backend when `shared`, else the same store twice. */
    const pair = async (): Promise<[KeyStore, KeyStore]> => {
      const writer = await create();
      return [writer, options.shared ? await create() : writer];
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((store) => store.close?.()));
    });

    describe('records', () => {
      it('should read back what was stored, and undefined for an unknown id', async () => {
        const [writer, reader] = await pair();
        const root = record(id('root'));
        await writer.create(root);
        expect(await reader.get(root.id)).toEqual(root);
        expect(await reader.get(id('missing'))).toBeUndefined();
      });

      it('should read several records in the order asked, undefined where one is missing', async () => {
        const [writer, reader] = await pair();
        const root = record(id('root'));
        const child = record(id('child'), root);
        await writer.create(root);
        await writer.create(child);
        const missing = id('missing');
        expect(await reader.getMany([child.id, missing, root.id])).toEqual([child, undefined, root]);
        expect(await reader.getMany([])).toEqual([]);
      });
    });

    describe('key chains (getChain, or get then getMany)', () => {
      it('should return a key and its ancestors parent first, or undefined for an unknown key', async () => {
        const [writer, reader] = await pair();
        const session = record(id('session'), undefined, { vendor: undefined });
        const member = record(id('member'), session);
        const key = record(id('key'), member);
        for (const entry of [session, member, key]) await writer.create(entry);
        expect(await readChain(reader, key.id)).toEqual([key, member, session]);
        expect(await readChain(reader, session.id)).toEqual([session]);
        expect(await readChain(reader, id('missing'))).toBeUndefined();
      });

      it('should give undefined in the place of an ancestor missing from the store', async () => {
        const [writer, reader] = await pair();
        const ghost = record(id('ghost'));
        const orphan = record(id('orphan'), ghost);
        await writer.create(orphan);
        expect(await readChain(reader, orphan.id)).toEqual([orphan, undefined]);
      });
    });

    describe('children', () => {
      it('should list direct children only, and none for a leaf', async () => {
        const [writer, reader] = await pair();
        const root = record(id('root'));
        const child = record(id('child'), root);
        const grandchild = record(id('grandchild'), child);
        for (const entry of [root, child, grandchild]) await writer.create(entry);
        expect(await reader.children(root.id)).toEqual([child.id]);
        expect(await reader.children(grandchild.id)).toEqual([]);
      });

      it('should index every child created concurrently under one parent', async () => {
        const [writer, reader] = await pair();
        const root = record(id('root'));
        await writer.create(root);
        const kids = Array.from({ length: 25 }, (_, index) => record(id(`kid${index}`), root));
        await Promise.all(kids.map((kid) => writer.create(kid)));
        expect((await reader.children(root.id)).sort()).toEqual(kids.map((kid) => kid.id).sort());
      });
    });

    describe('revoke', () => {
      it('should be seen on the next read, everywhere, keeping the first revocation time', async () => {
        const [writer, reader] = await pair();
        const root = record(id('root'));
        const child = record(id('child'), root);
        await writer.create(root);
        await writer.create(child);
        expect((await reader.get(root.id))?.revokedAt).toBeUndefined();
        // Read before: a store that keeps what it read must still see revocations made since.
        expect(await readChain(reader, child.id)).toEqual([child, root]);
        await writer.revoke([root.id, id('unknown')], NOW + 1000);
        await writer.revoke([root.id], NOW + 5000);
        expect(await reader.get(root.id)).toEqual({ ...root, revokedAt: NOW + 1000 });
        expect((await reader.getMany([child.id]))[0]?.revokedAt).toBeUndefined();
        expect(await readChain(reader, child.id)).toEqual([child, { ...root, revokedAt: NOW + 1000 }]);
        await writer.revoke([child.id], NOW + 2000);
        expect((await readChain(reader, child.id))?.[0]?.revokedAt).toBe(NOW + 2000);
        expect(await reader.get(id('unknown'))).toBeUndefined();
      });
    });

    describe('key chains read with { revocations: false } (getChain)', () => {
      it('should give the same records, and a revocation again on the next read with them', async () => {
        const [writer, reader] = await pair();
        // Without getChain the vault reads get and getMany, which always give revocations (above).
        if (!reader.getChain) return;
        const root = record(id('root'));
        const child = record(id('child'), root);
        await writer.create(root);
        await writer.create(child);
        expect(await reader.getChain(child.id, { revocations: true })).toEqual([child, root]);
        await writer.revoke([root.id], NOW + 1000);
        // A store may leave revocations out of such a read, or give them: nothing else differs.
        const without = await reader.getChain(child.id, { revocations: false });
        expect(without?.map((entry) => ({ ...entry, revokedAt: undefined }))).toEqual([child, root]);
        expect(await reader.getChain(child.id, { revocations: false })).toHaveLength(2);
        expect(await reader.getChain(child.id)).toEqual([child, { ...root, revokedAt: NOW + 1000 }]);
        expect(await reader.getChain(child.id, { revocations: true })).toEqual([
          child,
          { ...root, revokedAt: NOW + 1000 },
        ]);
      });
    });

    describe('revoke, through every read', () => {
      it('should never serve a revoked key as valid from get or getMany, even one read before', async () => {
        const [writer, reader] = await pair();
        const root = record(id('root'));
        const child = record(id('child'), root);
        await writer.create(root);
        await writer.create(child);
        expect(await reader.getMany([root.id, child.id])).toEqual([root, child]);
        expect(await reader.get(child.id)).toEqual(child);
        await writer.revoke([root.id, child.id], NOW + 1000);
        const revoked = [
          { ...root, revokedAt: NOW + 1000 },
          { ...child, revokedAt: NOW + 1000 },
        ];
        expect(await reader.getMany([root.id, child.id])).toEqual(revoked);
        expect(await reader.get(child.id)).toEqual(revoked[1]);
      });
    });

    describe('expired keys', () => {
      it('should keep an expired key for the retention, and a live key among its parent’s children', async () => {
        const [writer, reader] = await pair();
        const t = Date.now();
        const hour = 3_600_000;
        const root = record(id('root'), undefined, { createdAt: t, expiresAt: t + hour });
        const live = record(id('live'), root, { createdAt: t, expiresAt: t + hour });
        const recent = record(id('recent'), root, { createdAt: t, expiresAt: t - 1000 });
        // Its retention ends in 50 ms: a store may drop it, but not its siblings' place under the parent.
        const gone = record(id('gone'), root, { createdAt: t, expiresAt: t + 50 - EXPIRED_KEY_RETENTION_MS });
        for (const entry of [root, live, recent, gone]) await writer.create(entry);
        await new Promise((resolve) => setTimeout(resolve, 100));
        // A key issued two minutes later (on the issuing vault's clock), which stores that sweep on create see.
        const later = record(id('later'), root, { createdAt: t + 2 * 60_000, expiresAt: t + hour });
        await writer.create(later);
        expect(await readChain(reader, live.id)).toEqual([live, root]);
        expect(await readChain(reader, recent.id)).toEqual([recent, root]);
        expect(await reader.children(root.id)).toEqual(expect.arrayContaining([live.id, recent.id, later.id]));
      });
    });

    describe('pending prices', () => {
      it('should hand a pending record to exactly one taker', async () => {
        const [writer, reader] = await pair();
        const ref = `twilio:${id('SM')}`;
        await writer.putPending(ref, pendingRecord('audit-1'), 60_000);
        const taken = await Promise.all([writer.takePending(ref), reader.takePending(ref)]);
        expect(taken.filter((entry) => entry !== undefined)).toEqual([pendingRecord('audit-1')]);
        expect(await reader.takePending(ref)).toBeUndefined();
      });

      it('should forget a pending record after its TTL', async () => {
        const [writer, reader] = await pair();
        const ref = `twilio:${id('SM')}`;
        await writer.putPending(ref, pendingRecord('audit-2'), 30);
        await new Promise((resolve) => setTimeout(resolve, 80));
        expect(await reader.getPending?.(ref)).toBeUndefined();
        expect(await reader.takePending(ref)).toBeUndefined();
      });

      it('should read a pending record without taking it, if the store can (getPending)', async () => {
        const [writer, reader] = await pair();
        // Optional: a store without it is read by taking and putting back.
        if (!reader.getPending) return;
        const ref = `twilio:${id('SM')}`;
        expect(await reader.getPending(ref)).toBeUndefined();
        await writer.putPending(ref, pendingRecord('audit-3'), 60_000);
        expect(await reader.getPending(ref)).toEqual(pendingRecord('audit-3'));
        expect(await writer.getPending?.(ref)).toEqual(pendingRecord('audit-3'));
        expect(await reader.takePending(ref)).toEqual(pendingRecord('audit-3'));
        expect(await writer.getPending?.(ref)).toBeUndefined();
      });
    });
  });
}
