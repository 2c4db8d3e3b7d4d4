/** The policy of a new vault key. Amounts are USD (numbers or decimal strings). */
export interface IssueKeyOptions {
  /**
   * The vendor this key may call (`stripe`, `twilio`, `resend`, or one you defined). Omit for a
   * budget-only session key, whose children name vendors. A child of a vendor key inherits it.
   */
  vendor?: string | undefined;
  /**
   * Parent key id: the child's spend counts against the parent's caps, and its policy must narrow
   * the parent's. The parent's vault key names it too (only its id is used, and it is never echoed).
   */
  parentId?: string | undefined;
  /** Lifetime cap in USD. A root key needs `capUsd` or `dailyCapUsd`. */
  capUsd?: number | string | undefined;
  /** Cap per UTC day (resets 00:00 UTC) in USD. */
  dailyCapUsd?: number | string | undefined;
  /** Maximum number of calls over the key's life. A call refused before it was sent is not counted. */
  maxCalls?: number | undefined;
  /** Maximum estimated cost of one call in USD. */
  perCallMaxUsd?: number | string | undefined;
  /**
   * Allowed endpoints, `"<METHOD> /path"`; `*` is one path segment, `**` any depth. Omit to allow
   * every endpoint of the vendor (a child then inherits its parent's list).
   */
  allowedEndpoints?: readonly string[] | undefined;
  /**
   * Lifetime: seconds, or `"30m"`, `"1h"`, `"7d"`.
   * @default "1h" for a root key; the parent's remaining life for a child
   */
  expiresIn?: string | number | undefined;
  /**
   * For a child: cut an `expiresIn` past the parent's remaining life to the parent's, instead of
   * refusing it (a key refreshed near the end of its session). Without it, up to a minute over is
   * cut anyway (`'1h'` under a parent issued for `'1h'` a moment before); more is refused.
   * @default false
   */
  expiresWithParent?: boolean | undefined;
  /** The agent run or member this key is for, e.g. `billing-team/sess_42/billing`. Shown in audits and errors. */
  label?: string | undefined;
  /**
   * USD to reserve for a money-moving call whose cost the vendor's model cannot determine.
   * @default undefined — such calls are denied (fail closed)
   */
  fallbackEstimateUsd?: number | string | undefined;
  /**
   * Free metadata, stored and returned as given: a JSON object, at most 32 levels deep and 16 KiB
   * as JSON, with no `__proto__` key.
   */
  metadata?: Record<string, unknown> | undefined;
}

/** A newly issued key. `vaultKey` is shown only here: Keybrake stores its hash. */
export interface IssuedKey {
  /** Public id (`kbk_…`), safe to log. */
  id: string;
  /** The secret the agent uses in place of the vendor secret. */
  vaultKey: string;
  vendor?: string | undefined;
  parentId?: string | undefined;
  rootId: string;
  label?: string | undefined;
  /** ISO 8601. */
  expiresAt: string;
}
