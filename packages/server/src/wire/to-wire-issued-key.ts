import type { IssuedKey } from '@keybrake/core';
import type { WireIssuedKey } from './wire-types.js';

/**
 * Renders a newly issued key for the wire.
 *
 * @example
 * ```ts
 * toWireIssuedKey(await vault.issueKey({ capUsd: 200 })).root_id;
 * ```
 */
export function toWireIssuedKey(key: IssuedKey): WireIssuedKey {
  return {
    id: key.id,
    vault_key: key.vaultKey,
    vendor: key.vendor ?? null,
    expires_at: key.expiresAt,
    parent_id: key.parentId ?? null,
    root_id: key.rootId,
    label: key.label ?? null,
  };
}
