import type { Dispatcher } from 'undici';
import type { AuditSink } from '../audit/audit-record.js';
import type { KeyRecord } from '../keys/key-record.js';
import type { KeyMode } from '../keys/vault-key-format.js';
import type { Ledger } from '../ledger/ledger.js';
import type { FxTable } from '../money/fx-table.js';
import type { EndpointPattern } from '../paths/endpoint-matcher.js';
import type { KeyStore } from '../storage/key-store.js';
import type { VendorDefinition } from '../vendors/vendor-definition.js';

/** A configured vendor: its definition, parsed secret and effective base URL. */
export interface ConfiguredVendor {
  definition: VendorDefinition;
  /** Parsed real secret; `undefined` when none was configured (calls are then refused). */
  secret: unknown;
  baseUrl: URL;
  /** Whether its definition is Keybrake's own (its estimates wait only on `lookup`). */
  builtin: boolean;
}

/** The resolved internals shared by the vault's key management and its request engine. */
export interface VaultContext {
  mode: KeyMode;
  vendors: Map<string, ConfiguredVendor>;
  keyStore: KeyStore;
  ledger: Ledger;
  /**
   * The ledger refuses a revoked chain in its reservation (`keyStore.revocationsCheckedBy`): the
   * chain is read without its revocations before the reservation, and not again after it.
   */
  ledgerChecksRevocations: boolean;
  audit: AuditSink;
  fx: FxTable;
  reservationTtlMs: number;
  upstreamTimeoutMs: number;
  maxBodyBytes: number;
  dispatcher: Dispatcher;
  now: () => number;
  /** Set by `vault.close()`: calls are refused from then on. */
  closed: boolean;
  /** The bookkeeping (settle, audit) of answered calls that has not landed yet. */
  settling: Set<Promise<void>>;
  /** Calls between their start and their answer (or denial): `close()` waits for them. */
  inFlight: number;
  /** Who waits for `inFlight` to reach 0 (`close()`). */
  idleWaiters: Array<() => void>;
  /** Compiled allow-lists by key id (records are immutable but for revocation). */
  patterns: (record: KeyRecord) => EndpointPattern[] | undefined;
}
