import { InvalidKeyError } from '../errors/invalid-key-error.js';
import { KeyExpiredError } from '../errors/key-expired-error.js';
import { KeyRevokedError } from '../errors/key-revoked-error.js';
import { StorageError } from '../errors/storage-error.js';
import type { KeyRecord } from '../keys/key-record.js';
import { hashVaultKey, type KeyMode, parseVaultKey } from '../keys/vault-key-format.js';
import type { ChainReadOptions } from '../storage/key-store.js';
import type { VaultContext } from './vault-context.js';

/**
 * Authenticates a presented vault key and loads its chain (the key, then each ancestor),
 * refusing malformed and unknown keys. Always reads the store, so a revocation is seen on the
 * very next call; the caller checks expiry and revocation with {@link assertChainUsable}. With
 * `options.revocations` false (the ledger checks them when it reserves), a store may leave them out.
 *
 * @throws {InvalidKeyError | StorageError} `StorageError` also when a store's `getChain` returns the wrong number of parents.
 */
export async function loadKeyChain(
  context: VaultContext,
  vaultKey: string | undefined,
  options?: ChainReadOptions,
): Promise<KeyRecord[]> {
  if (!vaultKey) {
    throw new InvalidKeyError({
      message: 'Keybrake denied this call: no vault key was presented (send it as the API key / Bearer token).',
    });
  }
  const parsed = parseKeyCached(vaultKey);
  if (!parsed) {
    throw new InvalidKeyError({
      message:
        'Keybrake denied this call: the vault key is malformed (bad prefix, length or checksum). Check for a typo.',
    });
  }
  // A test key never fronts live secrets, nor a live key test ones (two vaults may share a store).
  if (parsed.mode !== context.mode) {
    throw new InvalidKeyError({
      message: `Keybrake denied this call: this is a ${parsed.mode} key, and this vault fronts ${context.mode} secrets.`,
    });
  }
  const store = context.keyStore;
  let chain: Array<KeyRecord | undefined>;
  if (store.getChain) {
    const loaded = await store.getChain(parsed.keyId, options);
    if (!loaded || !hashesEqual(parsed.hash, loaded[0].hash)) throw unknownKey();
    chain = loaded;
  } else {
    const record = await store.get(parsed.keyId);
    if (!record || !hashesEqual(parsed.hash, record.hash)) throw unknownKey();
    chain = [record, ...(await store.getMany(record.ancestorIds))];
  }
  const record = chain[0] as KeyRecord;
  if (chain.length !== record.ancestorIds.length + 1) {
    throw new StorageError({
      message: `Keybrake key store returned ${chain.length - 1} of the ${record.ancestorIds.length} parent keys of key ${record.id}; the call is denied.`,
    });
  }
  for (let index = 1; index < chain.length; index++) {
    if (!chain[index]) {
      throw new InvalidKeyError({
        message: `Keybrake denied this call: the parent key ${record.ancestorIds[index - 1]} of this key is missing from the store.`,
      });
    }
  }
  assertChainIntact(chain as KeyRecord[]);
  return chain as KeyRecord[];
}

const LIMIT_FIELDS = ['capMicros', 'dailyCapMicros', 'maxCalls', 'perCallMaxMicros', 'fallbackEstimateMicros'] as const;

/**
 * Refuses a chain whose records are damaged (a bad write, an old schema, a hand edit): every
 * limit is a check `x > limit` that a NaN, a string or a `null` would quietly pass, an expiry that
 * is not a number never comes, and a record that lost its ancestors would skip their caps. Fail
 * closed: the call is denied with a `StorageError` naming the key and the field.
 */
function assertChainIntact(chain: readonly KeyRecord[]): void {
  const self = chain[0] as KeyRecord;
  const corrupt = (record: KeyRecord, field: string): never => {
    throw new StorageError({
      message: `Keybrake found key record ${String(record.id).slice(0, 40)} corrupt in the store (${field}); the call is denied.`,
    });
  };
  for (const [index, record] of chain.entries()) {
    for (const field of LIMIT_FIELDS) {
      const value = record[field];
      if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0)) corrupt(record, field);
    }
    if (!Number.isFinite(record.expiresAt)) corrupt(record, 'expiresAt');
    if (record.revokedAt !== undefined && !Number.isFinite(record.revokedAt)) corrupt(record, 'revokedAt');
    // Its ancestors are the rest of the chain, parent first, and the last of them is the root.
    const ancestors = record.ancestorIds;
    if (!Array.isArray(ancestors) || ancestors.length !== chain.length - index - 1) corrupt(record, 'ancestorIds');
    for (let above = 0; above < ancestors.length; above++) {
      if (ancestors[above] !== chain[index + above + 1]?.id) corrupt(record, 'ancestorIds');
    }
    if (record.parentId !== ancestors[0]) corrupt(record, 'parentId');
    if (record.rootId !== (ancestors.at(-1) ?? record.id)) corrupt(record, 'rootId');
  }
  if (self.vendor !== undefined && typeof self.vendor !== 'string') corrupt(self, 'vendor');
}

function unknownKey(): InvalidKeyError {
  return new InvalidKeyError({ message: 'Keybrake denied this call: the vault key is not known to this vault.' });
}

const MAX_CACHED_KEYS = 10_000;
const parsedKeys = new Map<string, { keyId: string; hash: string; mode: KeyMode }>();

/**
 * Parses and hashes a presented key, remembering the result for recently seen keys so the hot
 * path does not hash twice per call. Only well-formed keys are remembered; lookups still hit
 * the store every call, so revocation is never cached.
 */
function parseKeyCached(vaultKey: string): { keyId: string; hash: string; mode: KeyMode } | undefined {
  const cached = parsedKeys.get(vaultKey);
  if (cached) return cached;
  const parsed = parseVaultKey(vaultKey);
  if (!parsed) return undefined;
  const entry = { keyId: parsed.keyId, hash: hashVaultKey(vaultKey), mode: parsed.mode };
  if (parsedKeys.size >= MAX_CACHED_KEYS) parsedKeys.delete(parsedKeys.keys().next().value as string);
  parsedKeys.set(vaultKey, entry);
  return entry;
}

/**
 * Compares two hex digests in time that depends only on their length (no early exit), without
 * allocating: this runs on every call.
 */
function hashesEqual(presented: string, stored: string): boolean {
  if (presented.length !== stored.length) return false;
  let difference = 0;
  for (let index = 0; index < presented.length; index++) {
    difference |= presented.charCodeAt(index) ^ stored.charCodeAt(index);
  }
  return difference === 0;
}

/** Throws if any key of a chain is revoked or expired at `now`. */
export function assertChainUsable(chain: readonly KeyRecord[], now: number): void {
  const self = chain[0];
  if (!self) return;
  for (const key of chain) {
    if (key.revokedAt !== undefined)
      throw new KeyRevokedError({ keyId: self.id, label: self.label, revokedKeyId: key.id });
  }
  for (const key of chain) {
    if (key.expiresAt <= now) {
      throw new KeyExpiredError({
        keyId: self.id,
        label: self.label,
        expiredKeyId: key.id,
        expiresAt: new Date(key.expiresAt).toISOString(),
      });
    }
  }
}
