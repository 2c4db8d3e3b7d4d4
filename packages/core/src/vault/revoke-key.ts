import { InvalidKeyError } from '../errors/invalid-key-error.js';
import type { VaultContext } from './vault-context.js';

/**
 * Revokes a key and every descendant. Calls check every ancestor's revocation too, so the
 * cascade holds even for a descendant issued concurrently with the revocation.
 *
 * @throws {InvalidKeyError} if the key does not exist.
 */
export async function revokeKey(context: VaultContext, keyId: string): Promise<{ revoked: string[] }> {
  const record = await context.keyStore.get(keyId);
  // Another mode's key (from a vault sharing this store) is not this vault's to show or revoke.
  if (!record || record.mode !== context.mode) throw new InvalidKeyError({ message: `Key ${keyId} does not exist.` });
  const revoked: string[] = [];
  const queue = [keyId];
  while (queue.length > 0) {
    const id = queue.shift() as string;
    revoked.push(id);
    queue.push(...(await context.keyStore.children(id)));
  }
  await context.keyStore.revoke(revoked, context.now());
  return { revoked };
}
