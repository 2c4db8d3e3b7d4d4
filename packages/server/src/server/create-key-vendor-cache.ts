import type { Vault } from '@keybrake/core';

/**
 * Creates a lookup of a key's vendor by key id, for logs and metrics of calls on bare vendor paths
 * (`/v1/…`), whose vendor is the key's. A key's vendor never changes, so each id is looked up once
 * (`vault.getKeyStatus`); concurrent lookups of one id share one read. Failed lookups are not cached.
 *
 * @param vault - The vault.
 * @param maxEntries - How many ids to remember; the oldest are forgotten first.
 * @returns `keyId → vendor` (`undefined` for a budget-only key, an unknown id or a failed read).
 * @example
 * ```ts
 * const vendorOf = createKeyVendorCache(vault);
 * await vendorOf('kbk_…'); // 'stripe'
 * ```
 */
export function createKeyVendorCache(
  vault: Vault,
  maxEntries = 10_000,
): (keyId: string | undefined) => Promise<string | undefined> {
  const cache = new Map<string, Promise<string | undefined>>();
  return (keyId) => {
    if (keyId === undefined) return Promise.resolve(undefined);
    let vendor = cache.get(keyId);
    if (!vendor) {
      vendor = vault.getKeyStatus(keyId).then(
        (status) => status.vendor,
        () => {
          cache.delete(keyId);
          return undefined;
        },
      );
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
      cache.set(keyId, vendor);
    }
    return vendor;
  };
}
