import type { AuditRecord } from '../audit/audit-record.js';
import type { KeyRecord } from '../keys/key-record.js';
import type { Ledger } from '../ledger/ledger.js';

/** Options of {@link KeyStore.getChain}. */
export interface ChainReadOptions {
  /**
   * `false`: the caller does not need the chain's revocations from this read (its ledger refuses a
   * revoked chain when it reserves, see {@link KeyStore.revocationsCheckedBy}), so a store whose
   * revocations cost a round trip may skip reading them. A store may always read them anyway.
   * @default true
   */
  revocations?: boolean | undefined;
}

/**
 * Where key records live. Implementations must throw on storage failures (a thrown error denies
 * the call) and must never cache a record past a revocation (but for a chain read with
 * `{ revocations: false }`).
 */
export interface KeyStore {
  /** Reads one record. */
  get(id: string): Promise<KeyRecord | undefined>;
  /** Reads several records in one round trip where the backend allows it; same order as `ids`. */
  getMany(ids: readonly string[]): Promise<Array<KeyRecord | undefined>>;
  /**
   * Optional: reads a record and its ancestors (`ancestorIds` order) in one round trip, for
   * stores where two reads cost two network trips. Resolves to `[record, ...ancestors]` with
   * `undefined` for a missing ancestor, or `undefined` if the record itself is unknown. Without it
   * the vault calls {@link KeyStore.get} then {@link KeyStore.getMany}. With
   * `{ revocations: false }` (see {@link ChainReadOptions}) a store may leave `revokedAt` out.
   */
  getChain?(id: string, options?: ChainReadOptions): Promise<[KeyRecord, ...Array<KeyRecord | undefined>] | undefined>;
  /** Stores a new record and indexes it under its parent. */
  create(record: KeyRecord): Promise<void>;
  /** Marks records revoked at `at` (epoch ms). Revoking a revoked record keeps the first time. */
  revoke(ids: readonly string[], at: number): Promise<void>;
  /** Direct children's ids. */
  children(id: string): Promise<string[]>;
  /**
   * Remembers a call settled at its estimate whose real price arrives later (a Twilio message),
   * under `ref` (`twilio:SM…`), for `ttlMs`.
   */
  putPending(ref: string, record: AuditRecord, ttlMs: number): Promise<void>;
  /**
   * Takes (reads and forgets) a pending call remembered by {@link KeyStore.putPending}: of
   * concurrent takers, exactly one gets it.
   */
  takePending(ref: string): Promise<AuditRecord | undefined>;
  /**
   * Reads a pending call without forgetting it. With it, the vault settles a late price first and
   * takes the entry after, so a settlement that fails (a storage outage) leaves the price to a later
   * read; without it, the vault takes the entry first and puts it back if the settlement fails.
   */
  getPending?(ref: string): Promise<AuditRecord | undefined>;
  /** Releases connections. */
  close?(): Promise<void>;
  /**
   * `true` for a store that other processes read too (Redis): every vault on it must count spend
   * in one ledger they share, or each would enforce every cap on its own. `createVault` refuses
   * such a store with a ledger that is not {@link Ledger.shared}.
   */
  readonly shared?: boolean;
  /**
   * What this store's records live in, when several store objects can be made over one storage
   * (two `createKeyvKeyStore` on one Keyv backend and namespace): `createVault` treats stores with
   * the same `storage` as one store, so that each one's vaults count spend in one ledger.
   * @default the store object itself
   */
  readonly storage?: object | undefined;
  /**
   * A ledger whose `reserve` refuses, in the same atomic step, a chain holding a key this store
   * has revoked (answering a denial with `cap: 'revoked'`), as the Redis storage's does. With that
   * ledger, the vault does not read the chain again after reserving a call, which it otherwise
   * does so that no call is sent once `revokeKey()` has resolved, and it reads the chain before
   * reserving with `getChain(id, { revocations: false })`: a revoked key is then refused by the
   * reservation (or before a cost model reads the vendor), not by that first read.
   */
  readonly revocationsCheckedBy?: Ledger | undefined;
}
