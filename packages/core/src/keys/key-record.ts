import type { MicroUsd } from '../money/micro-usd.js';
import type { KeyMode } from './vault-key-format.js';

/**
 * A vault key as stored: its policy and lineage, never the key itself (only its SHA-256).
 * Records are immutable but for `revokedAt`.
 */
export interface KeyRecord {
  /** Public id, `kbk_…`. */
  id: string;
  /** SHA-256 of the vault key, hex. */
  hash: string;
  mode: KeyMode;
  /** Vendor this key may call; `undefined` for a budget-only (session) key that cannot call anything itself. */
  vendor?: string | undefined;
  /** Parent key id, if any. */
  parentId?: string | undefined;
  /** Ids of all ancestors, parent first, root last. */
  ancestorIds: string[];
  /** The root (session) key id; the key's own id for a root key. */
  rootId: string;
  /** The agent run / member identity, e.g. `billing-team/sess_42/billing`. */
  label?: string | undefined;
  /** Lifetime cap, micro-dollars. */
  capMicros?: number | undefined;
  /** Daily cap (UTC day), micro-dollars. */
  dailyCapMicros?: number | undefined;
  /** Maximum number of calls. */
  maxCalls?: number | undefined;
  /** Maximum estimated cost of one call, micro-dollars. */
  perCallMaxMicros?: number | undefined;
  /** Estimate used when a vendor's cost model cannot price a money-moving call; unset = deny (fail closed). */
  fallbackEstimateMicros?: MicroUsd | undefined;
  /** Allow-list; `undefined` = any endpoint of the vendor (still bounded by ancestors' lists). */
  allowedEndpoints?: string[] | undefined;
  /** Expiry, epoch ms. */
  expiresAt: number;
  /** Creation time, epoch ms. */
  createdAt: number;
  /** Revocation time, epoch ms, if revoked. */
  revokedAt?: number | undefined;
  /** Free metadata, stored and returned as given. */
  metadata: Record<string, unknown>;
}
