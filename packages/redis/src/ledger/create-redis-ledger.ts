import {
  DAY_MS,
  EXPIRED_KEY_RETENTION_MS,
  type Ledger,
  type LedgerBalance,
  type ReserveResult,
  utcDay,
} from '@keybrake/core';
import {
  openRedisConnection,
  type RedisConnection,
  type RedisConnectionOptions,
} from '../connection/open-redis-connection.js';
import { balanceScript, repriceScript, reserveScript, settleScript } from './ledger-scripts.js';

/**
 * What a failed settlement means. The call was allowed and sent, so it is not denied; and a command
 * that timed out (Redis hung) may still run when Redis answers again, settling at `micros` after all.
 */
const SETTLE_FAILED =
  'the call was sent, and its reservation stays open and expires into spend at its estimate, unless this settlement reaches Redis late.';

/** Options of {@link createRedisLedger}. */
export interface RedisLedgerOptions extends RedisConnectionOptions {
  /**
   * Prepended to every key, so several vaults (or tests) can share one Redis. Every replica of one
   * vault must use the same prefix. For Redis Cluster, put a hash tag in it (`{keybrake}:`): each
   * script touches several keys, which must live in one slot.
   * @default 'keybrake:'
   */
  prefix?: string | undefined;
}

/** As core's `IDEMPOTENCY_WINDOW_MS` (not exported by `@keybrake/core`): a day, as Stripe does. */
const IDEMPOTENCY_WINDOW_MS = DAY_MS;

/** How long a settled reservation is kept so a late price (a Twilio SMS) can still replace its amount. */
const SETTLED_RETENTION_MS = 8 * 86_400_000;

/**
 * How long a settlement waits for others, to go to Redis with them in one script. A reservation,
 * a re-pricing or a balance read sends the settlements gathered so far ahead of itself, so under
 * load they wait only for the next call; alone, a settlement waits this long. Meanwhile its
 * reservation holds the call's estimate: a cap is only held more, never less.
 */
const SETTLE_GATHER_MS = 2;
/** Most settlements in one script. */
const SETTLE_BATCH_MAX = 256;

/** A settlement waiting to be sent. */
interface GatheredSettlement {
  /** Its script arguments: reservation id, micros, awaits a late price, outcome unknown. */
  args: readonly [string, string, string, string];
  onLateSettle: (() => void) | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A limit as the scripts read it: '' for none. Anything but a whole number is refused: a `null` or NaN read as "no limit" would fail open. */
const LIMIT = (value: number | undefined) => {
  if (value === undefined) return '';
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`Invalid limit ${value}.`);
  return String(value);
};

/**
 * How long from `now` a key's totals are kept, as the reserve script reads it: until
 * `EXPIRED_KEY_RETENTION_MS` after the key's expiry ('' for a key without one). Relative to the
 * vault's clock, so Redis's own clock does not matter; at least 1 ms.
 */
const keepFor = (expiresAt: number | undefined, now: number) => {
  if (expiresAt === undefined) return '';
  if (!Number.isSafeInteger(expiresAt)) throw new RangeError(`Invalid key expiry ${expiresAt}.`);
  return String(Math.max(1, expiresAt + EXPIRED_KEY_RETENTION_MS - now));
};

/**
 * Creates the Redis {@link Ledger}: one spend truth for every replica of a vault. A reservation
 * across the whole key chain is one Lua script (checked and reserved everywhere, or nowhere);
 * settling is another, which settles every call gathered within 2 ms, or sent ahead of the next
 * reservation (a settled call's reservation holds its estimate until then). Open reservations are kept in one sorted set by expiry, and the reserve and
 * balance scripts first turn the expired ones into spend, so a replica that crashed mid-call never
 * frees budget it may have used. Idempotency keys are shared across replicas for
 * 24 hours. A key's totals expire in Redis `EXPIRED_KEY_RETENTION_MS` after the key does (given
 * `expiresAt` in its limit, as the vault does). Semantics match `createMemoryLedger` exactly (both pass the same conformance suite).
 *
 * @param options - The Redis connection and key prefix; see {@link RedisLedgerOptions}.
 * @returns The ledger. `close()` closes the connection it opened.
 * @throws {StorageError} from every method when Redis cannot be reached or answers with an error
 *   (the call is then denied: fail closed), and from the factory when no URL is configured.
 * @example
 * ```ts
 * const ledger = createRedisLedger({ url: process.env.KEYBRAKE_REDIS_URL });
 * const vault = createVault({ ledger, secrets });
 * ```
 */
export function createRedisLedger(options: RedisLedgerOptions = {}): Ledger {
  return createLedgerOn(openRedisConnection(options), options.prefix);
}

/**
 * The ledger on an already opened connection, which it releases on `close()`; used by
 * `createRedisStorage` to share one connection.
 * @internal
 */
export function createLedgerOn(connection: RedisConnection, prefix = 'keybrake:'): Ledger {
  const retain = String(SETTLED_RETENTION_MS);
  let closed = false;
  let gathered: GatheredSettlement[] = [];
  let gatherTimer: NodeJS.Timeout | undefined;
  /** Sends the gathered settlements in one script; each settles (or fails) with it. */
  const sendSettlements = () => {
    clearTimeout(gatherTimer);
    gatherTimer = undefined;
    const batch = gathered;
    if (batch.length === 0) return;
    gathered = [];
    const args = [prefix, retain];
    for (const settlement of batch) args.push(...settlement.args);
    let sent: Promise<unknown> | undefined;
    const settled = connection.run(
      batch.length === 1 ? 'settle a call' : `settle ${batch.length} calls`,
      (client) => {
        sent = settleScript.run(client, args);
        return sent;
      },
      SETTLE_FAILED,
    );
    settled.then(
      () => {
        for (const settlement of batch) settlement.resolve();
      },
      (error: unknown) => {
        // Timed out while Redis was hung: the script may still run once Redis answers again, and
        // then it has settled each call it found.
        sent?.then(
          (reply) => {
            batch.forEach((settlement, index) => {
              if (Array.isArray(reply) && Number(reply[index]) === 1) settlement.onLateSettle?.();
            });
          },
          () => {},
        );
        for (const settlement of batch) settlement.reject(error);
      },
    );
  };
  return {
    shared: true,
    async reserve({ reservationId, chain, micros, now, ttlMs, idempotencyKey }): Promise<ReserveResult> {
      if (!Number.isSafeInteger(micros) || micros < 0) throw new RangeError(`Invalid reservation amount ${micros}.`);
      if (chain.length === 0) throw new RangeError('A reservation needs at least one key.');
      const args = [
        prefix,
        retain,
        reservationId,
        String(micros),
        String(now),
        String(now + ttlMs),
        String(utcDay(now)),
        idempotencyKey ?? '',
        String(IDEMPOTENCY_WINDOW_MS),
      ];
      for (const limit of chain) {
        args.push(
          limit.keyId,
          LIMIT(limit.capMicros),
          LIMIT(limit.dailyCapMicros),
          LIMIT(limit.maxCalls),
          keepFor(limit.expiresAt, now),
        );
      }
      // Settlements first, in the same write: Redis runs them before this reservation.
      sendSettlements();
      const reply = await connection.run('reserve a call', (client) => reserveScript.run(client, args));
      return toReserveResult(reservationId, reply);
    },

    async repriceUnknown({ reservationId, micros, now }) {
      if (!Number.isSafeInteger(micros)) throw new RangeError(`Invalid settlement amount ${micros}.`);
      sendSettlements();
      const reply = await connection.run('re-price a call', (client) =>
        repriceScript.run(client, [prefix, retain, reservationId, String(micros), String(now)]),
      );
      return toInteger(reply);
    },

    async settle({ reservationId, micros, awaitsLatePrice, onLateSettle, outcomeUnknown }) {
      if (!Number.isSafeInteger(micros)) throw new RangeError(`Invalid settlement amount ${micros}.`);
      await new Promise<void>((resolve, reject) => {
        gathered.push({
          args: [reservationId, String(micros), awaitsLatePrice ? '1' : '0', outcomeUnknown ? '1' : '0'],
          onLateSettle,
          resolve,
          reject,
        });
        if (gathered.length >= SETTLE_BATCH_MAX) sendSettlements();
        else gatherTimer ??= setTimeout(sendSettlements, SETTLE_GATHER_MS);
      });
    },

    async balance(keyId, now): Promise<LedgerBalance> {
      sendSettlements();
      const reply = await connection.run('read a balance', (client) =>
        balanceScript.run(client, [prefix, retain, keyId, String(now), String(utcDay(now))]),
      );
      const values = toArray(reply, 5);
      return {
        spentMicros: toInteger(values[0]),
        reservedMicros: toInteger(values[1]),
        dailySpentMicros: toInteger(values[2]),
        dailyReservedMicros: toInteger(values[3]),
        calls: toInteger(values[4]),
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      sendSettlements();
      await connection.release();
    },
  };
}

function toReserveResult(reservationId: string, reply: unknown): ReserveResult {
  const [kind, keyId, cap, limit, spent, reserved] = toArray(reply, 1);
  if (kind === 'reserved') return { ok: true, reservationId };
  if (kind === 'replay') return { ok: true, reservationId, replayOf: String(keyId), originalOpen: cap === '1' };
  if (kind === 'revoked') return { ok: false, keyId: String(keyId), cap: 'revoked', limit: 0, spent: 0, reserved: 0 };
  if (kind !== 'denied' || (cap !== 'total' && cap !== 'daily' && cap !== 'calls')) {
    throw new TypeError(`Unexpected reply from the reserve script: ${JSON.stringify(reply)}`);
  }
  return {
    ok: false,
    keyId: String(keyId),
    cap,
    limit: toInteger(limit),
    spent: toInteger(spent),
    reserved: toInteger(reserved),
  };
}

function toArray(reply: unknown, minLength: number): unknown[] {
  if (!Array.isArray(reply) || reply.length < minLength) {
    throw new TypeError(`Unexpected reply from a ledger script: ${JSON.stringify(reply)}`);
  }
  return reply;
}

function toInteger(value: unknown): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new TypeError(`Unexpected number from a ledger script: ${String(value)}`);
  return number;
}
