/** One member of a team plan. */
export interface TeamMemberPlan {
  /**
   * The vendor(s) this member calls. With several, the member gets a budget key holding its
   * sub-cap, with one key per vendor under it.
   */
  vendor?: string | readonly string[] | undefined;
  /** The member's sub-cap in USD; it also counts against the session cap. */
  capUsd?: number | string | undefined;
  /** The member's daily sub-cap in USD. */
  dailyCapUsd?: number | string | undefined;
  /** Maximum calls for this member. */
  maxCalls?: number | undefined;
  /** Maximum estimated cost of one call, USD. */
  perCallMaxUsd?: number | string | undefined;
  /** Allowed endpoints: one list, or one per vendor (`{ stripe: [...], twilio: [...] }`). */
  allowedEndpoints?: readonly string[] | Readonly<Record<string, readonly string[]>> | undefined;
  /**
   * Lifetime of the member's keys; refresh them with `member.refresh()` before they expire.
   * @default the session's TTL
   */
  keyTtl?: string | number | undefined;
  /**
   * Other members whose keys this member may also use (a shared cap): the notification member of
   * a billing team can hold the billing key to look up customers.
   */
  shareKeysOf?: readonly string[] | undefined;
  /** USD reserved for a money call the cost model cannot price. @default undefined (denied) */
  fallbackEstimateUsd?: number | string | undefined;
}

/** A plan for a team session: one session budget, one sub-capped key per member. */
export interface TeamPlan {
  /** Names the session in audits, e.g. `billing-team/sess_42`; members are labelled `<label>/<member>`. */
  label: string;
  /** Session cap, USD. At least one of `capUsd`, `dailyCapUsd`. */
  capUsd?: number | string | undefined;
  /** Session daily cap, USD. */
  dailyCapUsd?: number | string | undefined;
  /** Session lifetime. @default "1h" */
  ttl?: string | number | undefined;
  /** The members, by name. */
  members: Readonly<Record<string, TeamMemberPlan>>;
  /** Free metadata for the session key. */
  metadata?: Record<string, unknown> | undefined;
}
