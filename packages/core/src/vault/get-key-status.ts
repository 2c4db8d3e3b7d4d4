import { InvalidKeyError } from '../errors/invalid-key-error.js';
import type { KeyRecord } from '../keys/key-record.js';
import type { CapStatus, KeyStatus } from '../keys/key-status.js';
import { redactVaultKeys, toKeyId } from '../keys/vault-key-format.js';
import { fromMicroUsd } from '../money/micro-usd.js';
import type { VaultContext } from './vault-context.js';

/**
 * Reads a key's status: its spend and reservations, each cap of the key and its ancestors with
 * what remains, and the tightest remaining budget. The key may be named by its vault key: only
 * its id is used, and the vault key is never echoed.
 *
 * @throws {InvalidKeyError} if the key does not exist.
 */
export async function getKeyStatus(context: VaultContext, idOrVaultKey: string): Promise<KeyStatus> {
  const keyId = toKeyId(idOrVaultKey);
  const record = await context.keyStore.get(keyId);
  // Another mode's key (from a vault sharing this store) is not this vault's to show or revoke.
  if (!record || record.mode !== context.mode) {
    throw new InvalidKeyError({ message: `Key ${redactVaultKeys(keyId)} does not exist.` });
  }
  const now = context.now();
  const ancestors = (await context.keyStore.getMany(record.ancestorIds)).filter(
    (entry): entry is KeyRecord => entry !== undefined,
  );
  const caps: CapStatus[] = [];
  let own = { spentMicros: 0, reservedMicros: 0, calls: 0 };
  for (const entry of [record, ...ancestors]) {
    const balance = await context.ledger.balance(entry.id, now);
    if (entry === record) own = balance;
    if (entry.capMicros !== undefined)
      caps.push(capStatus(entry, 'total', entry.capMicros, balance.spentMicros, balance.reservedMicros));
    if (entry.dailyCapMicros !== undefined) {
      caps.push(capStatus(entry, 'daily', entry.dailyCapMicros, balance.dailySpentMicros, balance.dailyReservedMicros));
    }
  }
  const remaining = caps.length === 0 ? null : Math.min(...caps.map((cap) => cap.remainingMicros));
  return {
    id: record.id,
    label: record.label,
    vendor: record.vendor,
    parentId: record.parentId,
    rootId: record.rootId,
    spentUsd: fromMicroUsd(own.spentMicros),
    reservedUsd: fromMicroUsd(own.reservedMicros),
    remainingUsd: remaining === null ? null : fromMicroUsd(remaining),
    spentMicros: own.spentMicros,
    reservedMicros: own.reservedMicros,
    caps,
    calls: own.calls,
    maxCalls: record.maxCalls,
    // Copies: a caller changing the status must not change the key (the memory store keeps the record itself).
    allowedEndpoints: record.allowedEndpoints && [...record.allowedEndpoints],
    createdAt: new Date(record.createdAt).toISOString(),
    expiresAt: new Date(record.expiresAt).toISOString(),
    expired: record.expiresAt <= now,
    revoked: record.revokedAt !== undefined || ancestors.some((entry) => entry.revokedAt !== undefined),
    revokedAt: record.revokedAt === undefined ? undefined : new Date(record.revokedAt).toISOString(),
    children: [...(await context.keyStore.children(record.id))],
    metadata: structuredClone(record.metadata),
  };
}

function capStatus(
  record: KeyRecord,
  kind: CapStatus['kind'],
  cap: number,
  spent: number,
  reserved: number,
): CapStatus {
  const remaining = Math.max(0, cap - spent - reserved);
  return {
    keyId: record.id,
    label: record.label,
    kind,
    capUsd: fromMicroUsd(cap),
    spentUsd: fromMicroUsd(spent),
    reservedUsd: fromMicroUsd(reserved),
    remainingUsd: fromMicroUsd(remaining),
    capMicros: cap,
    spentMicros: spent,
    reservedMicros: reserved,
    remainingMicros: remaining,
  };
}
