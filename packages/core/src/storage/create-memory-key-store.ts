import type { AuditRecord } from '../audit/audit-record.js';
import type { KeyRecord } from '../keys/key-record.js';
import { EXPIRED_KEY_RETENTION_MS } from '../ledger/ledger.js';
import type { KeyStore } from './key-store.js';

/** Options of {@link createMemoryKeyStore}. */
export interface MemoryKeyStoreOptions {
  /** Clock for pending-price expiry, epoch ms (tests). @default Date.now */
  now?: () => number;
}

/** Pending prices are swept of expired entries whenever this many more have been added. */
const SWEEP_EVERY = 1024;
/**
 * Keys expired for longer than the retention are dropped, checked at most this often, when a key is
 * created (on the clock of the vault that issues it: the new record's `createdAt`).
 */
const KEY_SWEEP_INTERVAL_MS = 60_000;

/**
 * Creates the default {@link KeyStore}: key records in this process's memory, kept as the objects
 * given (records are never mutated in place; revocation stores a new object), read without any
 * serialisation or backend round trip. A key is dropped {@link EXPIRED_KEY_RETENTION_MS} after it
 * expires (with its place in its parent's children), checked when keys are created, so a
 * long-running vault does not keep every key it ever issued. For keys shared between processes use a Keyv backend
 * ({@link createKeyvKeyStore}) or `@keybrake/redis`.
 *
 * @example
 * ```ts
 * const vault = createVault({ secrets, keyStore: createMemoryKeyStore() }); // what createVault does by default
 * ```
 */
export function createMemoryKeyStore(options: MemoryKeyStoreOptions = {}): KeyStore {
  const now = options.now ?? Date.now;
  const records = new Map<string, KeyRecord>();
  const children = new Map<string, Set<string>>();
  const pending = new Map<string, { record: AuditRecord; expiresAt: number }>();
  let addedSinceSweep = 0;
  let nextKeySweep = 0;

  /** Drops keys past their retention. A child never outlives its parent, so no chain is left without its ancestors. */
  const sweepKeys = (at: number) => {
    if (at < nextKeySweep) return;
    nextKeySweep = at + KEY_SWEEP_INTERVAL_MS;
    for (const [id, record] of records) {
      if (record.expiresAt + EXPIRED_KEY_RETENTION_MS > at) continue;
      records.delete(id);
      children.delete(id);
      if (record.parentId !== undefined) children.get(record.parentId)?.delete(id);
    }
  };

  const sweepPending = (at: number) => {
    for (const [ref, entry] of pending) if (entry.expiresAt <= at) pending.delete(ref);
  };

  return {
    get: async (id) => records.get(id),
    getMany: async (ids) => ids.map((id) => records.get(id)),
    getChain: async (id) => {
      const record = records.get(id);
      if (!record) return undefined;
      const chain: [KeyRecord, ...Array<KeyRecord | undefined>] = [record];
      for (const ancestorId of record.ancestorIds) chain.push(records.get(ancestorId));
      return chain;
    },
    create: async (record) => {
      sweepKeys(record.createdAt);
      records.set(record.id, record);
      if (record.parentId) {
        const siblings = children.get(record.parentId);
        if (siblings) siblings.add(record.id);
        else children.set(record.parentId, new Set([record.id]));
      }
    },
    revoke: async (ids, at) => {
      for (const id of ids) {
        const record = records.get(id);
        if (record && record.revokedAt === undefined) records.set(id, { ...record, revokedAt: at });
      }
    },
    children: async (id) => [...(children.get(id) ?? [])],
    putPending: async (ref, record, ttlMs) => {
      const at = now();
      if (++addedSinceSweep >= SWEEP_EVERY) {
        addedSinceSweep = 0;
        sweepPending(at);
      }
      pending.set(ref, { record, expiresAt: at + ttlMs });
    },
    getPending: async (ref) => {
      const entry = pending.get(ref);
      return entry && entry.expiresAt > now() ? entry.record : undefined;
    },
    takePending: async (ref) => {
      const entry = pending.get(ref);
      if (!entry) return undefined;
      pending.delete(ref);
      return entry.expiresAt > now() ? entry.record : undefined;
    },
    close: async () => {},
  };
}
