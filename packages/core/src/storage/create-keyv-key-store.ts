import Keyv from 'keyv';
import type { AuditRecord } from '../audit/audit-record.js';
import { StorageError } from '../errors/storage-error.js';
import type { KeyRecord } from '../keys/key-record.js';
import { EXPIRED_KEY_RETENTION_MS } from '../ledger/ledger.js';
import type { KeyStore } from './key-store.js';

/** Options of {@link createKeyvKeyStore}. */
export interface KeyvKeyStoreOptions {
  /**
   * A Keyv instance over any backend (`new Keyv(new KeyvRedis(url))`, …). It is switched to
   * `throwOnErrors: true`: a storage failure must deny a call, never read as "no such key".
   * @default an in-memory Keyv that keeps records as objects (no serialisation on the hot path)
   */
  keyv?: Keyv;
  /**
   * Whether other processes (or this one after a restart) read these keys: then `createVault`
   * requires a shared ledger with it (see `KeyStore.shared`), since a memory ledger would forget
   * their spend. Set `false` only for a backend this process alone uses for its lifetime.
   * @default `true` unless the Keyv keeps its entries in a `Map` (the in-memory default)
   */
  shared?: boolean;
}

/** One identity per backend and namespace: two Keyvs over one `Map` and namespace are one store. */
const storages = new WeakMap<object, Map<string, object>>();
function storageOf(keyv: Keyv): object {
  const backend = keyv.store as object;
  let byNamespace = storages.get(backend);
  if (byNamespace === undefined) {
    byNamespace = new Map();
    storages.set(backend, byNamespace);
  }
  // A Keyv that does not prefix its keys reads the same entries whatever its namespace says.
  const namespace = keyv.useKeyPrefix === false ? '' : (keyv.namespace ?? '');
  let storage = byNamespace.get(namespace);
  if (storage === undefined) {
    storage = Object.freeze({ namespace });
    byNamespace.set(namespace, storage);
  }
  return storage;
}

/** The tail of each storage's queue of writes (see `serial` in {@link createKeyvKeyStore}). */
const queues = new WeakMap<object, Promise<unknown>>();

const recordKey = (id: string) => `key:${id}`;
const childrenKey = (id: string) => `children:${id}`;
const pendingKey = (ref: string) => `pending:${ref}`;
/**
 * How long, from `at` (the issuing vault's clock), an entry of a key expiring at `expiresAt` is kept:
 * until {@link EXPIRED_KEY_RETENTION_MS} after its expiry. Relative, so a backend's clock need not
 * match the vault's. At least 1 ms (Keyv reads 0 as "keep forever").
 */
const keepFor = (expiresAt: number, at: number) => Math.max(1, expiresAt + EXPIRED_KEY_RETENTION_MS - at);

/**
 * Creates a {@link KeyStore} on Keyv. Writes that append to a parent's list of children are
 * serialised within this process, across every store over the same Keyv backend and namespace
 * (not between processes: use `@keybrake/redis` there). Records and children lists are written
 * with a Keyv TTL that ends
 * {@link EXPIRED_KEY_RETENTION_MS} after the key expires; backends that expire entries (Redis,
 * most Keyv adapters) then drop them, while a plain `Map` only forgets them when they are read.
 *
 * @example
 * ```ts
 * const store = createKeyvKeyStore({ keyv: new Keyv({ namespace: 'keybrake' }) });
 * ```
 */
export function createKeyvKeyStore(options: KeyvKeyStoreOptions = {}): KeyStore {
  // Records are never mutated in place (revocation writes a new object), so the in-memory default
  // can skip keyv's JSON round trip on every read.
  const keyv = options.keyv ?? new Keyv({ namespace: 'keybrake', serialize: undefined, deserialize: undefined });
  keyv.throwOnErrors = true;
  // Keyv also emits errors; without a listener an EventEmitter 'error' would crash the process.
  keyv.on('error', () => {});
  const storage = storageOf(keyv);
  // One queue per storage, not per store object: two stores over one Keyv (two vaults of one
  // process) append to the same children lists.
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const queue = queues.get(storage) ?? Promise.resolve();
    const run = queue.then(task, task);
    queues.set(
      storage,
      run.catch(() => undefined),
    );
    return run;
  };
  const guard = async <T>(what: string, task: () => Promise<T>): Promise<T> => {
    try {
      return await task();
    } catch (error) {
      throw new StorageError({ message: `Keybrake key store failed to ${what}; the call is denied.`, cause: error });
    }
  };

  return {
    shared: options.shared ?? !(keyv.store instanceof Map),
    storage,
    get: (id) => guard('read a key', async () => (await keyv.get<KeyRecord>(recordKey(id))) ?? undefined),
    getMany: (ids) =>
      guard('read keys', async () => {
        if (ids.length === 0) return [];
        // Keyv's own `getMany` over a store without one reads each key and drops the reads that
        // failed (as `undefined`, whatever `throwOnErrors` says): a parent key the backend could
        // not read would look like one that does not exist. Read each key, and let a failure throw.
        const values =
          keyv.store.getMany === undefined
            ? await Promise.all(ids.map((id) => keyv.get<KeyRecord>(recordKey(id))))
            : await keyv.getMany<KeyRecord>(ids.map(recordKey));
        return values.map((value) => value ?? undefined);
      }),
    create: (record) =>
      guard('store a key', () =>
        serial(async () => {
          await keyv.set(recordKey(record.id), record, keepFor(record.expiresAt, record.createdAt));
          if (record.parentId) {
            const [siblings, parent] = await Promise.all([
              keyv.get<string[]>(childrenKey(record.parentId)),
              keyv.get<KeyRecord>(recordKey(record.parentId)),
            ]);
            // Kept as long as the parent (a child never outlives it).
            const ttl = keepFor(parent?.expiresAt ?? record.expiresAt, record.createdAt);
            await keyv.set(childrenKey(record.parentId), [...(siblings ?? []), record.id], ttl);
          }
        }),
      ),
    revoke: (ids, at) =>
      guard('revoke keys', () =>
        serial(async () => {
          for (const id of ids) {
            const record = await keyv.get<KeyRecord>(recordKey(id));
            if (record && record.revokedAt === undefined)
              await keyv.set(recordKey(id), { ...record, revokedAt: at }, keepFor(record.expiresAt, at));
          }
        }),
      ),
    children: (id) => guard('read children', async () => (await keyv.get<string[]>(childrenKey(id))) ?? []),
    putPending: (ref, record, ttlMs) =>
      guard('remember a pending price', async () => {
        await keyv.set(pendingKey(ref), record, ttlMs);
      }),
    getPending: (ref) =>
      guard('read a pending price', async () => (await keyv.get<AuditRecord>(pendingKey(ref))) ?? undefined),
    takePending: (ref) =>
      guard('read a pending price', async () => {
        const record = await keyv.get<AuditRecord>(pendingKey(ref));
        // Of concurrent takers, only the one whose delete removed the entry gets it (the backend's
        // delete reports whether the key was there), so a late price is never applied twice.
        if (!record || !(await keyv.delete(pendingKey(ref)))) return undefined;
        return record;
      }),
    close: () => keyv.disconnect(),
  };
}
