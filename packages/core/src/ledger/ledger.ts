import type { MicroUsd } from '../money/micro-usd.js';

/** One key's limits in a reservation chain. Unset limits are unlimited. */
export interface LedgerLimit {
  keyId: string;
  /** Lifetime cap, micro-dollars. */
  capMicros?: MicroUsd | undefined;
  /** Cap per UTC day, micro-dollars. */
  dailyCapMicros?: MicroUsd | undefined;
  /** Maximum number of calls. */
  maxCalls?: number | undefined;
  /**
   * The key's expiry, epoch ms (on the clock of `now`). A ledger may forget the key's totals
   * {@link EXPIRED_KEY_RETENTION_MS} after it: no call can be made on an expired key, nor on its
   * children (who expire no later than it), so its caps are never checked again. Unset: kept forever.
   */
  expiresAt?: number | undefined;
}

/** A request to reserve a call's estimated cost against a whole key chain. */
export interface ReserveRequest {
  /** Caller-chosen unique id for this reservation. */
  reservationId: string;
  /** The calling key first, then each ancestor up to the root. */
  chain: readonly LedgerLimit[];
  /** The estimate to reserve, micro-dollars (≥ 0). */
  micros: MicroUsd;
  /** Now, epoch ms (decides the UTC day). */
  now: number;
  /** After this long unsettled, the reservation counts as spent and can no longer be released. */
  ttlMs: number;
  /**
   * The request's idempotency key (the vault passes a digest of the `Idempotency-Key` and the
   * request it came with): a second reservation with the same key under the same root key (the
   * chain's last: a retry sent on another key of the same run, such as a team member's key after
   * a refresh, is the same vendor call) within 24 h reserves nothing and reports the first —
   * unless the first was settled at 0, which forgets the key (nothing was spent, so a retry is a
   * new call), but not with its outcome unknown (it may have run: its retry is a replay).
   */
  idempotencyKey?: string | undefined;
}

/** Why a reservation was refused: which key's which limit, and where it stood. */
export interface ReserveDenial {
  ok: false;
  /** The key whose limit has no room (or, for `revoked`, the revoked key). */
  keyId: string;
  /**
   * Which limit. `revoked`: a key of the chain is revoked, from a ledger that reads its key store's
   * revocations in the same atomic step (see `KeyStore.revocationsCheckedBy`); `limit`, `spent`
   * and `reserved` are then 0.
   */
  cap: 'total' | 'daily' | 'calls' | 'revoked';
  /** The limit (micro-dollars, or calls for `calls`). */
  limit: number;
  /** Spent against that limit (micro-dollars, or calls made). */
  spent: number;
  /** Reserved by calls in flight (micro-dollars; 0 for `calls`). */
  reserved: number;
}

/** Result of {@link Ledger.reserve}. */
export type ReserveResult =
  | {
      ok: true;
      reservationId: string;
      /** Set when the idempotency key was seen before: the id of the original reservation. Nothing was reserved. */
      replayOf?: string | undefined;
      /**
       * With `replayOf`: the original reservation is still open (its call has not been settled and
       * has not expired), so the vendor may still be executing it. The vault then answers a
       * retryable conflict instead of sending the retry: if the original ends up settled at 0, a
       * retry sent meanwhile would have moved money that no reservation covers.
       */
      originalOpen?: boolean | undefined;
    }
  | ReserveDenial;

/** A settlement: the final cost of a reserved call. */
export interface SettleRequest {
  reservationId: string;
  /** The actual cost, micro-dollars. */
  micros: MicroUsd;
  now: number;
  /**
   * The vendor reports its real price later (a queued Twilio SMS): keep the reservation (8 days)
   * so a later settle can replace this amount. Otherwise the reservation is done once settled and
   * a later settle of it is ignored, so a ledger does not grow with call history.
   */
  awaitsLatePrice?: boolean | undefined;
  /**
   * Called if this settlement throws but then takes effect after all: a storage command that timed
   * out on the client (a hung Redis) and ran once the server answered again. The vault uses it to
   * write the call's audit record again with the amount the ledger now holds. A ledger that cannot
   * fail that way (the memory ledger) never calls it; one that can should, at most once.
   */
  onLateSettle?: (() => void) | undefined;
  /**
   * The call's outcome is unknown (it timed out, its connection dropped, the vendor failed) and
   * `micros` is its estimate: keep the reservation, as with `awaitsLatePrice`, and mark it so that
   * {@link Ledger.repriceUnknown} may raise it once a replay of the call says what it cost.
   */
  outcomeUnknown?: boolean | undefined;
  /**
   * The call was never sent (the vault refused it after reserving: a key revoked meanwhile, or a
   * reservation whose outcome it could not read), settled with `micros: 0`: the ledger also gives
   * back the call the reservation counted against each key's `maxCalls`, so a retry is not refused
   * for a call that never happened. Only an open reservation gives its call back, once: not one
   * already expired (it counts as spent, as its caller may have sent it).
   */
  notSent?: boolean | undefined;
}

/** What a replay's answer says a call of unknown outcome cost; see {@link Ledger.repriceUnknown}. */
export interface RepriceRequest {
  reservationId: string;
  /** What the call cost, micro-dollars. */
  micros: MicroUsd;
  now: number;
}

/** Where one key stands. Expired unsettled reservations are included in `spent`. */
export interface LedgerBalance {
  spentMicros: MicroUsd;
  reservedMicros: MicroUsd;
  /** Spent today (UTC). */
  dailySpentMicros: MicroUsd;
  /** Reserved today (UTC). */
  dailyReservedMicros: MicroUsd;
  /** Calls reserved (allowed) so far. */
  calls: number;
}

/**
 * The spend ledger. Every implementation must make {@link Ledger.reserve} atomic across the
 * whole chain: either every limit of every key has room and all are reserved, or nothing is.
 * Implementations throw on storage failure (the call is then denied).
 */
export interface Ledger {
  /** Reserves `micros` against every key of the chain, or nothing. */
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  /**
   * Sets the final cost of a reservation and releases the rest. Settling a reservation that expired
   * into spend, or one settled with `awaitsLatePrice`, again replaces its amount — that is how late
   * prices are reconciled. Settling at 0 forgets the reservation's idempotency key. A negative
   * amount (a credit, such as a refund) lowers lifetime spend only, never a day's. Unknown and
   * done ids are ignored.
   */
  settle(request: SettleRequest): Promise<void>;
  /**
   * Optional: re-prices a reservation settled with {@link SettleRequest.outcomeUnknown}, or one
   * that expired unsettled (its caller crashed, or its settlement failed), from the answer to a
   * replay of its call (a retry under the same idempotency key). Raises its amount to
   * `micros` if that is more than it holds, on every key of its chain, and ends it; otherwise (not
   * settled that way, already re-priced, or `micros` not more) changes nothing. Without it, such a
   * call stays counted at its estimate.
   * @returns The micro-dollars added (0 if nothing changed).
   */
  repriceUnknown?(request: RepriceRequest): Promise<MicroUsd>;
  /** One key's balance at `now`. */
  balance(keyId: string, now: number): Promise<LedgerBalance>;
  /** Releases connections and timers. */
  close?(): Promise<void>;
  /** `true` for a ledger that other processes count in too (Redis); see {@link KeyStore.shared}. */
  readonly shared?: boolean;
}

/** Milliseconds in a day; days are UTC because epoch ms are. */
export const DAY_MS = 86_400_000;

/** How long an idempotency key is remembered, as Stripe does. */
export const IDEMPOTENCY_WINDOW_MS = DAY_MS;

/**
 * How long key stores and ledgers keep an expired key (its record, revocation, children index and
 * totals) before they may drop it: 8 days, longer than a late price (a Twilio SMS, up to 7 days)
 * takes to arrive, so a late price still reaches every key of its chain, and a key's status can be
 * read for a week after it expired. Without this, a long-running vault would keep every key it ever
 * issued.
 */
export const EXPIRED_KEY_RETENTION_MS = 8 * DAY_MS;

/** The UTC day number of an epoch-ms time. */
export const utcDay = (now: number): number => Math.floor(now / DAY_MS);
