import { EXPIRED_KEY_RETENTION_MS, IDEMPOTENCY_WINDOW_MS, type Ledger, type LedgerBalance, utcDay } from './ledger.js';

/**
 * Reservations that expired into spend or await a late price are kept this long, so the real price
 * (reconciled up to 7 days later) still applies.
 */
const SETTLED_RETENTION_DAYS = 8;

/** No limit, or a whole, non-negative one. */
const isLimit = (value: number | undefined) => value === undefined || (Number.isSafeInteger(value) && value >= 0);

interface Totals {
  spent: number;
  reserved: number;
  calls: number;
  /** UTC day → [spent, reserved]. Only days with reservations are kept. */
  days: Map<number, [number, number]>;
  /** When these totals may be dropped (the key's expiry plus the retention); unset: never. */
  forgetAt?: number | undefined;
}

/** A key nothing was reserved for yet. */
const NO_TOTALS: Readonly<Totals> = Object.freeze({ spent: 0, reserved: 0, calls: 0, days: new Map() });

interface Reservation {
  keyIds: string[];
  day: number;
  /** What is currently counted for this reservation (reserved while open, spent once final). */
  micros: number;
  expiresAt: number;
  final: boolean;
  /** The idempotency entry this reservation made, if any: forgotten if it is settled at 0. */
  idemKey?: string | undefined;
  /** Settled at its estimate for want of a known outcome: a replay may re-price it (`repriceUnknown`). */
  unknown?: boolean | undefined;
}

/**
 * The in-memory {@link Ledger}: one process's truth, atomic because a reservation checks and
 * writes the whole chain with no `await` in between. Use `@keybrake/redis` to share a ledger
 * between processes.
 *
 * @example
 * ```ts
 * const vault = createVault({ ledger: createMemoryLedger(), secrets });
 * ```
 */
export function createMemoryLedger(): Ledger {
  const totals = new Map<string, Totals>();
  const reservations = new Map<string, Reservation>();
  const idempotency = new Map<string, { reservationId: string; at: number }>();
  /** Ids of reservations not yet settled or expired. */
  const open = new Set<string>();
  let nextSweep = 0;
  let nextCleanup = 0;

  const totalsOf = (keyId: string): Totals => {
    let entry = totals.get(keyId);
    if (!entry) {
      entry = { spent: 0, reserved: 0, calls: 0, days: new Map() };
      totals.set(keyId, entry);
    }
    return entry;
  };
  const dayOf = (entry: Totals, day: number): [number, number] => {
    let bucket = entry.days.get(day);
    if (!bucket) {
      bucket = [0, 0];
      entry.days.set(day, bucket);
    }
    return bucket;
  };

  /**
   * Turns open reservations past their expiry into spend (a crashed caller never settles). Only
   * open reservations are scanned, at most once a second; old settled reservations and idempotency
   * keys are dropped at most once an hour, so the cost of a call does not grow with history.
   */
  const sweep = (now: number, always = false) => {
    if (now < nextSweep && !always) return;
    nextSweep = now + 1000;
    for (const id of open) {
      const reservation = reservations.get(id);
      if (reservation && reservation.expiresAt <= now) expire(id, reservation);
    }
    if (now < nextCleanup) return;
    nextCleanup = now + 3_600_000;
    for (const [key, entry] of idempotency) if (entry.at + IDEMPOTENCY_WINDOW_MS <= now) idempotency.delete(key);
    const oldest = utcDay(now) - SETTLED_RETENTION_DAYS;
    for (const [id, reservation] of reservations)
      if (reservation.final && reservation.day < oldest) reservations.delete(id);
    // An expired key's caps are never checked again (no call can be made on it or its children).
    for (const [keyId, entry] of totals)
      if (entry.forgetAt !== undefined && entry.forgetAt <= now) totals.delete(keyId);
  };

  /**
   * Counts an open reservation past its expiry as spent at its amount. Its caller never said what
   * happened (it crashed, or its settlement failed): the call may have run, so a replay's answer
   * may raise it to what it cost, as for any call of unknown outcome.
   */
  const expire = (id: string, reservation: Reservation) => {
    finalize(id, reservation, reservation.micros);
    reservation.unknown = true;
  };

  const finalize = (id: string, reservation: Reservation, micros: number) => {
    open.delete(id);
    // A credit (a negative settlement) lowers lifetime spend but no day's: it must not reopen a daily cap.
    const dayMicros = Math.max(micros, 0);
    for (const keyId of reservation.keyIds) {
      // A key forgotten after its expiry is not brought back: nothing reads its totals again.
      const entry = totals.get(keyId);
      if (entry === undefined) continue;
      const bucket = dayOf(entry, reservation.day);
      if (reservation.final) {
        entry.spent += micros - reservation.micros;
        bucket[0] += dayMicros - Math.max(reservation.micros, 0);
      } else {
        entry.reserved -= reservation.micros;
        entry.spent += micros;
        bucket[1] -= reservation.micros;
        bucket[0] += dayMicros;
      }
    }
    reservation.micros = micros;
    reservation.final = true;
  };

  return {
    async reserve({ reservationId, chain, micros, now, ttlMs, idempotencyKey }) {
      if (!Number.isSafeInteger(micros) || micros < 0) throw new RangeError(`Invalid reservation amount ${micros}.`);
      if (chain.length === 0) throw new RangeError('A reservation needs at least one key.');
      // A NaN, fractional or negative limit compares false and would let every call through: refused.
      for (const limit of chain)
        if (!isLimit(limit.capMicros) || !isLimit(limit.dailyCapMicros) || !isLimit(limit.maxCalls))
          throw new RangeError(
            `Invalid limit on key ${limit.keyId}: ${limit.capMicros}, ${limit.dailyCapMicros}, ${limit.maxCalls}.`,
          );
      sweep(now);
      // Scoped to the chain's root: a retry sent on another key of the same run (a team member's key
      // after a refresh) is the same vendor call.
      const idemKey = idempotencyKey === undefined ? undefined : `${chain.at(-1)?.keyId}\u0000${idempotencyKey}`;
      if (idemKey !== undefined) {
        const seen = idempotency.get(idemKey);
        if (seen && seen.at + IDEMPOTENCY_WINDOW_MS > now) {
          const original = reservations.get(seen.reservationId);
          const originalOpen = original !== undefined && !original.final && original.expiresAt > now;
          return { ok: true, reservationId, replayOf: seen.reservationId, originalOpen };
        }
      }
      const day = utcDay(now);
      // Check every limit of the whole chain first, then write — no await in between.
      for (const limit of chain) {
        // Read without creating: a refused call must not leave totals behind.
        const entry = totals.get(limit.keyId) ?? NO_TOTALS;
        if (limit.maxCalls !== undefined && entry.calls + 1 > limit.maxCalls) {
          return {
            ok: false,
            keyId: limit.keyId,
            cap: 'calls',
            limit: limit.maxCalls,
            spent: entry.calls,
            reserved: 0,
          };
        }
        if (limit.capMicros !== undefined && entry.spent + entry.reserved + micros > limit.capMicros) {
          return {
            ok: false,
            keyId: limit.keyId,
            cap: 'total',
            limit: limit.capMicros,
            spent: entry.spent,
            reserved: entry.reserved,
          };
        }
        if (limit.dailyCapMicros !== undefined) {
          const [spent, reserved] = entry.days.get(day) ?? [0, 0];
          if (spent + reserved + micros > limit.dailyCapMicros) {
            return { ok: false, keyId: limit.keyId, cap: 'daily', limit: limit.dailyCapMicros, spent, reserved };
          }
        }
      }
      for (const limit of chain) {
        const entry = totalsOf(limit.keyId);
        if (limit.expiresAt !== undefined) entry.forgetAt = limit.expiresAt + EXPIRED_KEY_RETENTION_MS;
        entry.calls += 1;
        entry.reserved += micros;
        dayOf(entry, day)[1] += micros;
      }
      reservations.set(reservationId, {
        keyIds: chain.map((limit) => limit.keyId),
        day,
        micros,
        expiresAt: now + ttlMs,
        final: false,
        idemKey,
      });
      open.add(reservationId);
      if (idemKey !== undefined) idempotency.set(idemKey, { reservationId, at: now });
      return { ok: true, reservationId };
    },

    async settle({ reservationId, micros, now, awaitsLatePrice, outcomeUnknown, notSent }) {
      if (!Number.isSafeInteger(micros)) throw new RangeError(`Invalid settlement amount ${micros}.`);
      sweep(now);
      const reservation = reservations.get(reservationId);
      if (!reservation) return;
      // A call never sent gives back the call it counted (maxCalls), once: only while it is open
      // (an expired one counts as spent, swept or not).
      if (notSent && !reservation.final && reservation.expiresAt > now)
        for (const keyId of reservation.keyIds) {
          const entry = totals.get(keyId);
          if (entry !== undefined) entry.calls -= 1;
        }
      finalize(reservationId, reservation, micros);
      // Nothing spent: a retry with the same idempotency key is a new call, not a replay. Not so for
      // a call that may have run (its outcome unknown, counted at an estimate of 0): its retry is a
      // replay, whose answer can still say what it cost.
      if (micros === 0 && !outcomeUnknown && reservation.idemKey !== undefined)
        if (idempotency.get(reservation.idemKey)?.reservationId === reservationId)
          idempotency.delete(reservation.idemKey);
      // Kept only while a late price (or a replay's) may still arrive; otherwise history would grow without end.
      if (outcomeUnknown) reservation.unknown = true;
      else if (!awaitsLatePrice) reservations.delete(reservationId);
    },

    async repriceUnknown({ reservationId, micros, now }) {
      if (!Number.isSafeInteger(micros)) throw new RangeError(`Invalid settlement amount ${micros}.`);
      sweep(now);
      const reservation = reservations.get(reservationId);
      // Expired since the last sweep (at most a second ago): it is of unknown outcome all the same.
      if (reservation && !reservation.final && reservation.expiresAt <= now) expire(reservationId, reservation);
      if (!reservation?.unknown || micros <= reservation.micros) return 0;
      const added = micros - reservation.micros;
      finalize(reservationId, reservation, micros);
      reservations.delete(reservationId);
      return added;
    },

    async balance(keyId, now): Promise<LedgerBalance> {
      // Not held back a second as on the call path: a status shows an expired reservation as spent at once.
      sweep(now, true);
      const entry = totals.get(keyId);
      const [dailySpent, dailyReserved] = entry?.days.get(utcDay(now)) ?? [0, 0];
      return {
        spentMicros: entry?.spent ?? 0,
        reservedMicros: entry?.reserved ?? 0,
        dailySpentMicros: dailySpent,
        dailyReservedMicros: dailyReserved,
        calls: entry?.calls ?? 0,
      };
    },

    // Nothing to release, and the totals are kept: a ledger shared by several vaults must not
    // forget its spending when one of them closes.
    async close() {},
  };
}
