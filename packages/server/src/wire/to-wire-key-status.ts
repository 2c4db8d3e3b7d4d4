import type { KeyStatus } from '@keybrake/core';
import type { WireKeyStatus } from './wire-types.js';

/**
 * Renders a key's status for the wire: USD amounts at the top level, per-cap detail in `caps`.
 *
 * @example
 * ```ts
 * toWireKeyStatus(await vault.getKeyStatus(id)).remaining_usd;
 * ```
 */
export function toWireKeyStatus(status: KeyStatus): WireKeyStatus {
  return {
    id: status.id,
    label: status.label ?? null,
    vendor: status.vendor ?? null,
    parent_id: status.parentId ?? null,
    root_id: status.rootId,
    spent_usd: status.spentUsd,
    reserved_usd: status.reservedUsd,
    remaining_usd: status.remainingUsd,
    caps: status.caps.map((cap) => ({
      key_id: cap.keyId,
      label: cap.label ?? null,
      kind: cap.kind,
      cap_usd: cap.capUsd,
      spent_usd: cap.spentUsd,
      reserved_usd: cap.reservedUsd,
      remaining_usd: cap.remainingUsd,
    })),
    calls: status.calls,
    max_calls: status.maxCalls ?? null,
    allowed_endpoints: status.allowedEndpoints ?? null,
    created_at: status.createdAt,
    expires_at: status.expiresAt,
    expired: status.expired,
    revoked: status.revoked,
    revoked_at: status.revokedAt ?? null,
    children: status.children,
    metadata: status.metadata,
  };
}
