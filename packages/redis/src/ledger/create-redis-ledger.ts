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
   * vault must use the same prefix. (Redis Cluster is not supported: each script touches several
   * keys it computes itself.)
   * @default 'keybrake:'
   */
  prefix?: string | undefined;
}

/** As core's `IDEMPOTENCY_WINDOW_MS` (not exported by `@keybrake/core`): a day, as Stripe does. */
const IDEMPOTENCY_WINDOW_MS = DAY_MS;

/** How long a settled reservation is kept so a late price (a Twilio SMS) can still replace its amount. */
const SETTLED_RETENTION_MS = 8 * 86_400_000;

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
 * settling is another. Open reservations are kept in one sorted set by expiry, and the reserve and
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
      const reply = await connection.run('reserve a call', (client) => reserveScript.run(client, args));
      return toReserveResult(reservationId, reply);
    },

    async repriceUnknown({ reservationId, micros, now }) {
      if (!Number.isSafeInteger(micros)) throw new RangeError(`Invalid settlement amount ${micros}.`);
      const reply = await connection.run('re-price a call', (client) =>
        repriceScript.run(client, [prefix, retain, reservationId, String(micros), String(now)]),
      );
      return toInteger(reply);
    },

    async settle({ reservationId, micros, now, awaitsLatePrice, onLateSettle, outcomeUnknown, notSent }) {
      if (!Number.isSafeInteger(micros)) throw new RangeError(`Invalid settlement amount ${micros}.`);
      let sent: Promise<unknown> | undefined;
      try {
        await connection.run(
          'settle a call',
          (client) => {
            sent = settleScript.run(client, [
              prefix,
              retain,
              reservationId,
              String(micros),
              String(now),
              awaitsLatePrice ? '1' : '0',
              outcomeUnknown ? '1' : '0',
              notSent ? '1' : '0',
            ]);
            return sent;
          },
          SETTLE_FAILED,
        );
      } catch (error) {
        // Timed out while Redis was hung: a script already sent may still run once Redis answers
        // again. One not sent yet (the connection was still reading Redis' eviction policy) never
        // is: `run` does not start a task after its timeout, so no `onLateSettle` is needed for it.
        if (sent && onLateSettle) sent.then(onLateSettle, () => {});
        throw error;
      }
    },

    async balance(keyId, now): Promise<LedgerBalance> {
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
