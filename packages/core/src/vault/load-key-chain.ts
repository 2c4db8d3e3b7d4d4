import { KeyExpiredError } from '../errors/key-expired-error.js';
import { KeyRevokedError } from '../errors/key-revoked-error.js';
import { InvalidKeyError } from '../errors/simple-errors.js';
import type { KeyRecord } from '../keys/key-record.js';
import { parseVaultKey, vaultKeyMatches } from '../keys/vault-key-format.js';
import type { VaultContext } from './vault-context.js';

/**
 * Authenticates a presented vault key and loads its chain (the key, then each ancestor),
 * refusing malformed, unknown, expired and revoked keys — an ancestor's revocation or expiry
 * counts. Always reads the store: a revocation is seen on the very next call.
 *
 * @throws {InvalidKeyError | KeyExpiredError | KeyRevokedError | StorageError}
 */
export async function loadKeyChain(context: VaultContext, vaultKey: string | undefined): Promise<KeyRecord[]> {
  if (!vaultKey) {
    throw new InvalidKeyError({
      message: 'Keybrake denied this call: no vault key was presented (send it as the API key / Bearer token).',
    });
  }
  const parsed = parseVaultKey(vaultKey);
  if (!parsed) {
    throw new InvalidKeyError({
      message:
        'Keybrake denied this call: the vault key is malformed (bad prefix, length or checksum). Check for a typo.',
    });
  }
  const record = await context.keyStore.get(parsed.keyId);
  if (!record || !vaultKeyMatches(vaultKey, record.hash)) {
    throw new InvalidKeyError({ message: 'Keybrake denied this call: the vault key is not known to this vault.' });
  }
  const ancestors = await context.keyStore.getMany(record.ancestorIds);
  const chain: KeyRecord[] = [record];
  for (const [index, ancestor] of ancestors.entries()) {
    if (!ancestor) {
      throw new InvalidKeyError({
        message: `Keybrake denied this call: the parent key ${record.ancestorIds[index]} of this key is missing from the store.`,
      });
    }
    chain.push(ancestor);
  }
  assertChainUsable(chain, context.now());
  return chain;
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
