/**
 * The JSON shapes of the proxy's admin API. Everything on the wire is snake_case; amounts are
 * plain USD numbers; absent values are `null`, so every field is always present.
 */

/** `201` answer of `POST /vault/keys`. `vault_key` is shown only here: the proxy stores its hash. */
export interface WireIssuedKey {
  /** Public key id, `kbk_…`, safe to log. */
  id: string;
  /** The secret the agent uses in place of the vendor's. */
  vault_key: string;
  vendor: string | null;
  /** ISO 8601. */
  expires_at: string;
  parent_id: string | null;
  root_id: string;
  label: string | null;
}

/** One cap of a key or of one of its ancestors. */
export interface WireCapStatus {
  /** The key owning the cap. */
  key_id: string;
  label: string | null;
  /** `total` (lifetime) or `daily` (UTC day). */
  kind: 'total' | 'daily';
  cap_usd: number;
  spent_usd: number;
  reserved_usd: number;
  remaining_usd: number;
}

/** `GET /vault/keys/{id}`: where a key stands. */
export interface WireKeyStatus {
  id: string;
  label: string | null;
  vendor: string | null;
  parent_id: string | null;
  root_id: string;
  /** Spent by this key and its descendants. */
  spent_usd: number;
  /** Reserved by calls in flight. */
  reserved_usd: number;
  /** What can still be spent: the tightest cap of the key and its ancestors; `null` if uncapped. */
  remaining_usd: number | null;
  caps: WireCapStatus[];
  calls: number;
  max_calls: number | null;
  allowed_endpoints: string[] | null;
  created_at: string;
  expires_at: string;
  expired: boolean;
  revoked: boolean;
  revoked_at: string | null;
  children: string[];
  metadata: Record<string, unknown>;
}

/** `200` answer of `DELETE /vault/keys/{id}`: every key revoked (the key and its descendants). */
export interface WireRevoked {
  revoked: string[];
}

/** Who acted, as sent in `x-keybrake-member`, `x-keybrake-tool` and `x-keybrake-tool-call-id`. */
export interface WireAuditActor {
  member: string | null;
  tool: string | null;
  tool_call_id: string | null;
}

/** One audit record: one vendor call, allowed or denied. Holds no secret, vault key or body. */
export interface WireAuditRecord {
  id: string;
  time: string;
  key_id: string | null;
  root_id: string | null;
  label: string | null;
  /** Labels from the calling key up to the root. */
  label_chain: string[];
  vendor: string | null;
  method: string;
  /** The normalised path. */
  path: string;
  decision: 'allowed' | 'denied';
  /** For denials: the Keybrake error code, e.g. `KEYBRAKE_CAP_EXCEEDED`. */
  reason: string | null;
  outcome: 'settled' | 'unknown' | 'replayed' | null;
  estimated_usd: number;
  actual_usd: number;
  vendor_status: number | null;
  vendor_request_id: string | null;
  idempotency_key: string | null;
  latency_ms: number;
  actor: WireAuditActor | null;
  note: string | null;
  /** 0 as first written; each later rewrite (a late price reconciled) adds 1. */
  revision: number;
}

/** Totals of one calling key over the matched records. */
export interface WireAuditTotals {
  key_id: string;
  label: string | null;
  calls: number;
  allowed: number;
  denied: number;
  spent_usd: number;
}

/** Totals of one team member (the `x-keybrake-member` of its calls), over whichever keys it used. */
export interface WireAuditMemberTotals {
  member: string;
  calls: number;
  allowed: number;
  denied: number;
  spent_usd: number;
}

/** `GET /vault/audit`: records newest first, and totals per key and per member over every matched record. */
export interface WireAuditResult {
  records: WireAuditRecord[];
  totals: WireAuditTotals[];
  member_totals: WireAuditMemberTotals[];
}

/** The body of every admin API error. */
export interface WireError {
  error: {
    /** A Keybrake error code (`KEYBRAKE_INVALID_POLICY`, …) or `KEYBRAKE_UNAUTHORIZED` / `KEYBRAKE_NOT_FOUND` / `KEYBRAKE_METHOD_NOT_ALLOWED` / `KEYBRAKE_INTERNAL_ERROR`. */
    code: string;
    message: string;
    /** Field-level messages by snake_case field path (`cap_usd`, `allowed_endpoints.1`). */
    fields?: Record<string, string>;
  };
}
