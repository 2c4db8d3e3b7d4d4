import type { KeybrakeErrorCode } from '../errors/keybrake-error.js';
import type { MicroUsd } from '../money/micro-usd.js';

/**
 * One record per vendor call, allowed or denied. Holds no secret, no vault key and no body.
 */
export interface AuditRecord {
  /** Unique id (also the ledger reservation id for allowed calls). */
  id: string;
  /** When the call arrived, ISO 8601. */
  time: string;
  /** The calling key, or `undefined` if the presented key could not be identified. */
  keyId?: string | undefined;
  /** The root (session) key of the caller. */
  rootKeyId?: string | undefined;
  /** Label of the calling key. */
  label?: string | undefined;
  /** Labels from the calling key up to the root. */
  labelChain: string[];
  vendor?: string | undefined;
  /** The method as sent, upper-cased (at most 200 characters: a refused one can be any text). */
  method: string;
  /** The normalised path (or the raw path, if it was refused as malformed), vault keys redacted, at most 256 characters. */
  path: string;
  decision: 'allowed' | 'denied';
  /** For denials: the Keybrake error code. */
  reason?: KeybrakeErrorCode | undefined;
  /**
   * For allowed calls: `settled`; `unknown` when the outcome is unknown and the estimate stays
   * spent (no answer, an answer that could not be read, or a vendor error, 5xx, on a call kept
   * counted); `replayed` for a retry answered with an earlier call's result.
   */
  outcome?: 'settled' | 'unknown' | 'replayed' | undefined;
  estimatedMicros: MicroUsd;
  /** Settled cost; for denials 0. */
  actualMicros: MicroUsd;
  vendorStatus?: number | undefined;
  vendorRequestId?: string | undefined;
  /** The `Idempotency-Key` sent, a vault key in it redacted, at most 200 characters. */
  idempotencyKey?: string | undefined;
  /** Total time in Keybrake and upstream, ms. */
  latencyMs: number;
  /**
   * Who acted: the member, tool and tool call, as the adapter reported them (a vault key in each
   * redacted, each at most 200 characters).
   */
  actor?: AuditActor | undefined;
  /** A short note from the cost model (`2 UCS-2 segments`). */
  note?: string | undefined;
  /**
   * How many times the record was written again with a late price (absent: never). A reader
   * merging several copies of a record (one file per replica) keeps the highest.
   */
  revision?: number | undefined;
}

/** The agent identity an adapter attaches to a call. */
export interface AuditActor {
  member?: string | undefined;
  tool?: string | undefined;
  toolCallId?: string | undefined;
}

/** A filter over audit records. All fields are optional and combine with AND. */
export interface AuditQuery {
  /** Records of this session: calls by the root key or any of its descendants. */
  rootKeyId?: string | undefined;
  keyId?: string | undefined;
  label?: string | undefined;
  vendor?: string | undefined;
  decision?: 'allowed' | 'denied' | undefined;
  /**
   * From this time on (inclusive), epoch ms or ISO 8601 (a time without an offset is UTC; a date or time that
   * does not exist, `2026-02-30`, is refused).
   */
  since?: number | string | undefined;
  /**
   * Before this time (exclusive), epoch ms or ISO 8601 (a time without an offset is UTC; a date or time that
   * does not exist, `2026-02-30`, is refused).
   */
  until?: number | string | undefined;
  /** At most this many records, newest first. @default 100 */
  limit?: number | undefined;
}

/** Totals of one calling key over the matched records. */
export interface AuditTotals {
  keyId: string;
  label?: string | undefined;
  calls: number;
  allowed: number;
  denied: number;
  spentMicros: MicroUsd;
}

/** Totals of one team member (the `actor.member` an adapter recorded), over whichever keys it used. */
export interface AuditMemberTotals {
  member: string;
  calls: number;
  allowed: number;
  denied: number;
  spentMicros: MicroUsd;
}

/** Result of an audit query. */
export interface AuditQueryResult {
  /** Newest first, at most `limit`. */
  records: AuditRecord[];
  /** Per calling key over all matched records (not only the first `limit`). */
  totals: AuditTotals[];
  /** Per member (from the records' `actor.member`) over all matched records, a shared key's calls counted for the member that made them. */
  memberTotals: AuditMemberTotals[];
}

/** Where audit records go. `write` must not block the vendor call; `flush` makes them durable. */
export interface AuditSink {
  /**
   * Records a call without blocking it. A record with the id of an earlier one supersedes it
   * (a late reconciled price).
   */
  write(record: AuditRecord): void;
  /** Records matching a query, newest first, with per-key totals. */
  query(query: AuditQuery): Promise<AuditQueryResult>;
  /** Waits until every written record is durable. */
  flush(): Promise<void>;
  close?(): Promise<void>;
}
