import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type AuditSink, createJsonlAuditSink, createVault, type Vault, type VaultOptions } from '@keybrake/core';
import type { Logger } from 'pino';
import type { ServeConfig } from './resolve-serve-config.js';

/**
 * Creates the vault of `keybrake serve` from a resolved config. With a Redis URL
 * (`KEYBRAKE_REDIS_URL` / `--redis-url`), the ledger, key store and audit trail live in Redis via
 * `@keybrake/redis` (a dependency, imported only then), so every replica
 * enforces the same caps. `--audit-file` writes the audit log as JSON Lines instead (with or
 * without Redis).
 *
 * @param config - The resolved config.
 * @param logger - Where audit write failures are reported.
 * @returns The vault.
 * @throws {InvalidPolicyError} if a secret, price, FX rate or upstream URL is malformed.
 * @example
 * ```ts
 * const vault = await createServeVault(resolveServeConfig({ flags: {}, env: process.env }), logger);
 * ```
 */
export async function createServeVault(config: ServeConfig, logger: Logger): Promise<Vault> {
  let storage: Pick<VaultOptions, 'ledger' | 'keyStore' | 'audit'> = {};
  if (config.redisUrl) {
    const redis = await import('@keybrake/redis');
    storage = redis.createRedisStorage({
      url: config.redisUrl,
      prefix: config.redisPrefix,
      onAuditError: (error) => logger.error({ err: error }, 'audit write to Redis failed'),
    });
  }
  let audit: AuditSink | undefined = storage.audit;
  if (config.auditFile) {
    await storage.audit?.close?.();
    // Refused at start, not found out at the first call: a proxy that cannot write its audit
    // trail would hold every record in memory and lose them all when it stops.
    try {
      await mkdir(dirname(config.auditFile), { recursive: true });
      await appendFile(config.auditFile, '');
    } catch (error) {
      await Promise.allSettled([storage.ledger?.close?.(), storage.keyStore?.close?.()]);
      throw new Error(`cannot write the audit file ${config.auditFile}: ${(error as Error).message}`, { cause: error });
    }
    audit = createJsonlAuditSink({
      path: config.auditFile,
      onError: (error) => logger.error({ err: error, path: config.auditFile }, 'audit write failed'),
    });
  }
  try {
    return createVault({
      ...storage,
      audit,
      secrets: config.secrets,
      upstreams: config.upstreams,
      fx: config.fx,
      prices: config.prices,
      mode: config.mode,
      maxBodyBytes: config.maxBodyBytes,
      upstreamTimeout: config.upstreamTimeout,
      reservationTtl: config.reservationTtl,
    });
  } catch (error) {
    await Promise.allSettled([storage.ledger?.close?.(), storage.keyStore?.close?.(), audit?.close?.()]);
    throw error;
  }
}
