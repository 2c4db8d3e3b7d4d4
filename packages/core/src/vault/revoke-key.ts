import { InvalidKeyError } from '../errors/invalid-key-error.js';
import { redactVaultKeys, toKeyId } from '../keys/vault-key-format.js';
import type { VaultContext } from './vault-context.js';

const REVOKE_BATCH = 1000;

/**
 * Revokes a key and every descendant. Calls check every ancestor's revocation too, so the
 * cascade holds even for a descendant issued concurrently with the revocation. The key may be
 * named by its vault key (a leaked one, say): only its id is used, and the vault key is never echoed.
 *
 * @throws {InvalidKeyError} if the key does not exist.
 */
export async function revokeKey(context: VaultContext, idOrVaultKey: string): Promise<{ revoked: string[] }> {
  const keyId = toKeyId(idOrVaultKey);
  const record = await context.keyStore.get(keyId);
  // Another mode's key (from a vault sharing this store) is not this vault's to show or revoke.
  if (!record || record.mode !== context.mode) {
    throw new InvalidKeyError({ message: `Key ${redactVaultKeys(keyId)} does not exist.` });
  }
  // The key itself first: every call checks its ancestors, so this alone stops every descendant
  // at once, before the tree below is walked.
  const now = context.now();
  await context.keyStore.revoke([keyId], now);
  // Breadth first, read by index (no shift()) and children added one by one (no spread): a key
  // with a hundred thousand children is revoked like one with two.
  const revoked: string[] = [keyId];
  for (let next = 0; next < revoked.length; next++) {
    for (const child of await context.keyStore.children(revoked[next] as string)) revoked.push(child);
  }
  // In batches, so no store gets a hundred thousand ids in one command.
  for (let start = 1; start < revoked.length; start += REVOKE_BATCH) {
    await context.keyStore.revoke(revoked.slice(start, start + REVOKE_BATCH), now);
  }
  return { revoked };
}
