import type { MicroUsd } from '../money/micro-usd.js';

/** One cap and where it stands. */
export interface CapStatus {
  /** The key owning the cap (this key or an ancestor). */
  keyId: string;
  label?: string | undefined;
  kind: 'total' | 'daily';
  capUsd: number;
  spentUsd: number;
  reservedUsd: number;
  remainingUsd: number;
  capMicros: MicroUsd;
  spentMicros: MicroUsd;
  reservedMicros: MicroUsd;
  remainingMicros: MicroUsd;
}

/** Where a key stands: spend, reservations, remaining budget, lifetime. */
export interface KeyStatus {
  id: string;
  label?: string | undefined;
  vendor?: string | undefined;
  parentId?: string | undefined;
  rootId: string;
  /** Spent by this key and its descendants, USD (expired unsettled reservations included). */
  spentUsd: number;
  /** Reserved by calls in flight, USD. */
  reservedUsd: number;
  /** What can still be spent through this key: the tightest cap of the key and its ancestors. `null` if uncapped. */
  remainingUsd: number | null;
  spentMicros: MicroUsd;
  reservedMicros: MicroUsd;
  /** This key's caps and its ancestors', each with its own figures. */
  caps: CapStatus[];
  calls: number;
  maxCalls?: number | undefined;
  allowedEndpoints?: string[] | undefined;
  createdAt: string;
  expiresAt: string;
  expired: boolean;
  revoked: boolean;
  revokedAt?: string | undefined;
  children: string[];
  metadata: Record<string, unknown>;
}
