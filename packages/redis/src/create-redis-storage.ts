import type { AuditSink, KeyStore, Ledger, StorageError } from '@keybrake/core';
import { createAuditSinkOn } from './audit/create-redis-audit-sink.js';
import { openRedisConnection, type RedisConnectionOptions } from './connection/open-redis-connection.js';
import { createLedgerOn } from './ledger/create-redis-ledger.js';
import { createKeyStoreOn } from './storage/create-redis-key-store.js';

/** Options of {@link createRedisStorage}. */
export interface RedisStorageOptions extends RedisConnectionOptions {
  /**
   * Prepended to every key (and to the audit stream's name); every replica of one vault must use
   * the same prefix.
   * @default 'keybrake:'
   */
  prefix?: string | undefined;
  /** The audit stream. @default `${prefix}audit` */
  stream?: string | undefined;
  /** Approximate length the audit streams are trimmed to. @default 1_000_000 */
  maxLen?: number | undefined;
  /** Called when audit records could not be written (they are retried) or were dropped. @default a process warning */
  onAuditError?: ((error: StorageError) => void) | undefined;
}

/** The three Redis-backed stores of a vault, on one connection. */
export interface RedisStorage {
  ledger: Ledger;
  keyStore: KeyStore;
  audit: AuditSink;
  /**
   * Flushes the audit sink and closes all three stores and the connection. Closing the vault does
   * the same (the connection closes when its last store does); calling both is harmless.
   */
  close(): Promise<void>;
}

/**
 * Creates a Redis ledger, key store and audit sink sharing one connection: everything a vault
 * needs so that any number of replicas (proxy instances, workers, machines) enforce the same caps,
 * see the same revocations and write one audit trail. Redis errors deny calls (503
 * `KEYBRAKE_STORAGE_ERROR`), and the connection recovers by itself when Redis comes back.
 *
 * @param options - The Redis URL (default `KEYBRAKE_REDIS_URL`) or client, key prefix and audit
 *   settings; see {@link RedisStorageOptions}.
 * @returns The {@link RedisStorage}, to spread into `createVault`.
 * @throws {StorageError} if no URL is configured or it is malformed.
 * @example
 * ```ts
 * import { createVault } from '@keybrake/core';
 * import { createRedisStorage } from '@keybrake/redis';
 *
 * const storage = createRedisStorage({ url: process.env.KEYBRAKE_REDIS_URL });
 * const vault = createVault({ ...storage, secrets: { stripe: process.env.STRIPE_SECRET_KEY } });
 * ```
 */
export function createRedisStorage(options: RedisStorageOptions = {}): RedisStorage {
  const prefix = options.prefix ?? 'keybrake:';
  const connection = openRedisConnection(options);
  connection.retain();
  connection.retain();
  const ledger = createLedgerOn(connection, prefix);
  // The reserve script reads this store's revocation markers (same connection, same prefix).
  const keyStore = createKeyStoreOn(connection, prefix, ledger);
  const audit = createAuditSinkOn(connection, {
    stream: options.stream ?? `${prefix}audit`,
    maxLen: options.maxLen,
    onError: options.onAuditError,
  });
  return {
    ledger,
    keyStore,
    audit,
    async close() {
      try {
        await audit.close?.();
      } finally {
        await ledger.close?.();
        await keyStore.close?.();
      }
    },
  };
}
