import { DAY_MS, EXPIRED_KEY_RETENTION_MS, type Ledger, type LedgerLimit } from '@keybrake/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';

/** Options of {@link describeLedgerConformance}. */
export interface LedgerConformanceOptions {
  /** Creates a fresh, empty ledger for one test. */
  create: () => Promise<Ledger> | Ledger;
  /** Runs of the randomised concurrency property. @default 25 */
  propertyRuns?: number;
}

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const HOUR = 3_600_000;
let counter = 0;
/** Yields to the event loop `times` times, so concurrent tasks interleave differently per run. */
const yieldTimes = async (times: number) => {
  for (let turn = 0; turn < times; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
};
const id = (prefix: string) => `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`;

/**
 * The conformance suite every {@link Ledger} must pass (in memory, Redis, your own): atomic
 * reservation across a key chain, settlement and release, unknown outcomes, expiry to spent,
 * daily windows, call limits, idempotency, and a randomised concurrency property (fast-check):
 * whatever interleaving of reserves and settles, no cap is ever exceeded and totals add up.
 *
 * @example
 * ```ts
 * import { createMemoryLedger } from '@keybrake/core';
 * import { describeLedgerConformance } from '@keybrake/testkit/conformance';
 * describeLedgerConformance('memory ledger', { create: () => createMemoryLedger() });
 * ```
 */
export function describeLedgerConformance(name: string, options: LedgerConformanceOptions): void {
  describe(`${name} (ledger conformance)`, () => {
    const open: Ledger[] = [];
    const create = async () => {
      const ledger = await options.create();
      open.push(ledger);
      return ledger;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((ledger) => ledger.close?.()));
    });

    describe('reserve', () => {
      it('should reserve against every key of the chain', async () => {
        const ledger = await create();
        const [child, root] = [id('child'), id('root')];
        const result = await ledger.reserve({
          reservationId: id('r'),
          chain: [
            { keyId: child, capMicros: 150 },
            { keyId: root, capMicros: 200 },
          ],
          micros: 100,
          now: NOW,
          ttlMs: HOUR,
        });
        expect(result.ok).toBe(true);
        expect((await ledger.balance(child, NOW)).reservedMicros).toBe(100);
        expect((await ledger.balance(root, NOW)).reservedMicros).toBe(100);
      });

      it('should reserve nothing anywhere when one key of the chain has no room', async () => {
        const ledger = await create();
        const [child, root] = [id('child'), id('root')];
        await ledger.reserve({
          reservationId: id('r'),
          chain: [{ keyId: root, capMicros: 200 }],
          micros: 150,
          now: NOW,
          ttlMs: HOUR,
        });
        const result = await ledger.reserve({
          reservationId: id('r'),
          chain: [
            { keyId: child, capMicros: 100 },
            { keyId: root, capMicros: 200 },
          ],
          micros: 60,
          now: NOW,
          ttlMs: HOUR,
        });
        expect(result).toEqual({ ok: false, keyId: root, cap: 'total', limit: 200, spent: 0, reserved: 150 });
        expect(await ledger.balance(child, NOW)).toMatchObject({ reservedMicros: 0, spentMicros: 0, calls: 0 });
        expect((await ledger.balance(root, NOW)).reservedMicros).toBe(150);
      });

      it('should allow a reservation that exactly fills the cap', async () => {
        const ledger = await create();
        const key = id('k');
        const chain = [{ keyId: key, capMicros: 1_000_000 }];
        expect(
          (await ledger.reserve({ reservationId: id('r'), chain, micros: 1_000_000, now: NOW, ttlMs: HOUR })).ok,
        ).toBe(true);
        expect((await ledger.reserve({ reservationId: id('r'), chain, micros: 1, now: NOW, ttlMs: HOUR })).ok).toBe(
          false,
        );
      });

      it('should count calls and refuse past maxCalls', async () => {
        const ledger = await create();
        const key = id('k');
        const chain = [{ keyId: key, maxCalls: 2 }];
        for (let call = 0; call < 2; call++) {
          expect((await ledger.reserve({ reservationId: id('r'), chain, micros: 0, now: NOW, ttlMs: HOUR })).ok).toBe(
            true,
          );
        }
        expect(await ledger.reserve({ reservationId: id('r'), chain, micros: 0, now: NOW, ttlMs: HOUR })).toMatchObject(
          {
            ok: false,
            cap: 'calls',
            limit: 2,
            spent: 2,
          },
        );
      });

      it('should give back the call of a reservation settled as never sent, once, on every key of its chain', async () => {
        const ledger = await create();
        const [member, root] = [id('m'), id('root')];
        const chain = [
          { keyId: member, maxCalls: 1 },
          { keyId: root, maxCalls: 5 },
        ];
        const reserve = () => ledger.reserve({ reservationId: id('r'), chain, micros: 10, now: NOW, ttlMs: HOUR });
        const first = await reserve();
        expect(first.ok).toBe(true);
        expect(await reserve()).toMatchObject({ ok: false, cap: 'calls', keyId: member });
        const settle = () =>
          ledger.settle({ reservationId: first.ok ? first.reservationId : '', micros: 0, now: NOW, notSent: true });
        await settle();
        await settle(); // a second settlement of a done reservation gives nothing more back
        expect((await ledger.balance(member, NOW)).calls).toBe(0);
        expect((await ledger.balance(root, NOW)).calls).toBe(0);
        const second = await reserve();
        expect(second.ok).toBe(true);
        // A call settled as sent stays counted.
        await ledger.settle({ reservationId: second.ok ? second.reservationId : '', micros: 0, now: NOW });
        expect(await reserve()).toMatchObject({ ok: false, cap: 'calls', keyId: member, spent: 1 });
        expect((await ledger.balance(root, NOW)).calls).toBe(1);
        // An expired reservation is spent, whether it was swept yet or not: its call stays counted.
        const late = await ledger.reserve({
          reservationId: id('r'),
          chain: [{ keyId: root }],
          micros: 5,
          now: NOW,
          ttlMs: 1000,
        });
        await ledger.settle({
          reservationId: late.ok ? late.reservationId : '',
          micros: 0,
          now: NOW + 1000,
          notSent: true,
        });
        expect((await ledger.balance(root, NOW + 1000)).calls).toBe(2);
      });

      it('should count a retried idempotency key once', async () => {
        const ledger = await create();
        const key = id('k');
        const chain = [{ keyId: key, capMicros: 1000 }];
        const first = await ledger.reserve({
          reservationId: id('r'),
          chain,
          micros: 600,
          now: NOW,
          ttlMs: HOUR,
          idempotencyKey: 'idem-1',
        });
        const retry = await ledger.reserve({
          reservationId: id('r'),
          chain,
          micros: 600,
          now: NOW + 5,
          ttlMs: HOUR,
          idempotencyKey: 'idem-1',
        });
        expect(first.ok && retry.ok && retry.replayOf).toBe(first.ok ? first.reservationId : 'unreachable');
        expect(await ledger.balance(key, NOW)).toMatchObject({ reservedMicros: 600, calls: 1 });
      });

      it('should tell a retry whether its original is still open', async () => {
        const ledger = await create();
        const key = id('k');
        const chain = [{ keyId: key, capMicros: 1000 }];
        const reserve = (now: number, ttlMs = HOUR) =>
          ledger.reserve({ reservationId: id('r'), chain, micros: 600, now, ttlMs, idempotencyKey: 'idem-open' });
        const first = await reserve(NOW);
        const whileOpen = await reserve(NOW + 5);
        await ledger.settle({ reservationId: first.ok ? first.reservationId : '', micros: 550, now: NOW + 6 });
        const afterSettle = await reserve(NOW + 7);
        expect([whileOpen, afterSettle]).toMatchObject([
          { ok: true, replayOf: first.ok ? first.reservationId : '', originalOpen: true },
          { ok: true, replayOf: first.ok ? first.reservationId : '', originalOpen: false },
        ]);
        expect(await ledger.balance(key, NOW + 7)).toMatchObject({ spentMicros: 550, reservedMicros: 0, calls: 1 });

        // An original that expired unsettled counts as spent: a retry replays it, and is not told it is open.
        const other = id('k');
        const expiring = () =>
          ledger.reserve({
            reservationId: id('r'),
            chain: [{ keyId: other }],
            micros: 300,
            now: NOW,
            ttlMs: 1_000,
            idempotencyKey: 'idem-expired',
          });
        const original = await expiring();
        const late = await ledger.reserve({
          reservationId: id('r'),
          chain: [{ keyId: other }],
          micros: 300,
          now: NOW + 2_000,
          ttlMs: 1_000,
          idempotencyKey: 'idem-expired',
        });
        expect(late).toMatchObject({
          ok: true,
          replayOf: original.ok ? original.reservationId : '',
          originalOpen: false,
        });
        expect(await ledger.balance(other, NOW + 2_000)).toMatchObject({ spentMicros: 300, calls: 1 });
      });

      it('should forget an idempotency key whose reservation settled at 0', async () => {
        const ledger = await create();
        const key = id('k');
        const reserve = (now: number) =>
          ledger.reserve({
            reservationId: id('r'),
            chain: [{ keyId: key, capMicros: 1000 }],
            micros: 600,
            now,
            ttlMs: HOUR,
            idempotencyKey: 'idem-free',
          });
        const first = await reserve(NOW);
        await ledger.settle({ reservationId: first.ok ? first.reservationId : '', micros: 0, now: NOW + 1 });
        // Nothing was spent (the call was never sent, or the vendor refused it): the retry is a new call.
        const retry = await reserve(NOW + 2);
        expect(retry.ok && retry.replayOf).toBe(undefined);
        expect(await ledger.balance(key, NOW + 2)).toMatchObject({ spentMicros: 0, reservedMicros: 600, calls: 2 });
        // And the new reservation holds the key again.
        expect(await reserve(NOW + 3)).toMatchObject({ ok: true, replayOf: retry.ok ? retry.reservationId : '' });
      });

      // A call that may have run, counted at an estimate of 0 (a $0 fallback): its retry is a
      // replay, whose answer can still say what it cost (repriceUnknown), not a new call.
      it('should keep the idempotency key of a call of unknown outcome settled at 0', async () => {
        const ledger = await create();
        const key = id('k');
        const reserve = (reservationId: string, now: number) =>
          ledger.reserve({
            reservationId,
            chain: [{ keyId: key, capMicros: 1000 }],
            micros: 0,
            now,
            ttlMs: HOUR,
            idempotencyKey: 'idem-unknown',
          });
        const original = id('r');
        await reserve(original, NOW);
        await ledger.settle({ reservationId: original, micros: 0, now: NOW + 1, outcomeUnknown: true });
        expect(await reserve(id('r'), NOW + 2)).toMatchObject({ ok: true, replayOf: original, originalOpen: false });
        if (ledger.repriceUnknown)
          expect(await ledger.repriceUnknown({ reservationId: original, micros: 500, now: NOW + 3 })).toBe(500);
      });

      it("should scope idempotency keys to the chain's root: shared by keys under one root, not across roots", async () => {
        const ledger = await create();
        const [a, b, root, other] = [id('a'), id('b'), id('root'), id('other')];
        const reserve = (chain: LedgerLimit[]) =>
          ledger.reserve({ reservationId: id('r'), chain, micros: 5, now: NOW, ttlMs: HOUR, idempotencyKey: 'same' });
        const first = await reserve([{ keyId: a }, { keyId: root }]);
        // Another key of the same run (a team member's key after a refresh): the same vendor call.
        const sibling = await reserve([{ keyId: b }, { keyId: root }]);
        expect(sibling).toMatchObject({ ok: true, replayOf: first.ok ? first.reservationId : 'none' });
        expect((await ledger.balance(b, NOW)).reservedMicros).toBe(0);
        // Another root: a call of its own.
        const elsewhere = await reserve([{ keyId: id('c') }, { keyId: other }]);
        expect(elsewhere.ok && elsewhere.replayOf).toBe(undefined);
        expect((await ledger.balance(other, NOW)).reservedMicros).toBe(5);
      });

      it('should hold the daily cap and maxCalls of every key of the chain, not only the calling key’s', async () => {
        const ledger = await create();
        const [a, b, root] = [id('a'), id('b'), id('root')];
        const session = { keyId: root, dailyCapMicros: 100, maxCalls: 3 };
        const reserve = (keyId: string, micros: number) =>
          ledger.reserve({ reservationId: id('r'), chain: [{ keyId }, session], micros, now: NOW, ttlMs: HOUR });
        expect((await reserve(a, 60)).ok).toBe(true);
        expect(await reserve(b, 41)).toEqual({
          ok: false,
          keyId: root,
          cap: 'daily',
          limit: 100,
          spent: 0,
          reserved: 60,
        });
        expect((await reserve(b, 40)).ok).toBe(true);
        expect((await reserve(a, 0)).ok).toBe(true);
        expect(await reserve(b, 0)).toMatchObject({ ok: false, keyId: root, cap: 'calls', limit: 3, spent: 3 });
      });
    });

    describe('settle', () => {
      it('should let a credit lower lifetime spend but not reopen a daily cap', async () => {
        const ledger = await create();
        const key = id('k');
        const chain = [{ keyId: key, capMicros: 1_000, dailyCapMicros: 100 }];
        const DAY = 86_400_000;
        const charge = await ledger.reserve({ reservationId: id('r'), chain, micros: 100, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId: charge.ok ? charge.reservationId : '', micros: 100, now: NOW });
        // The next day: the refund of yesterday's charge is a credit, reserved at 0 and settled negative.
        const refund = await ledger.reserve({ reservationId: id('r'), chain, micros: 0, now: NOW + DAY, ttlMs: HOUR });
        await ledger.settle({ reservationId: refund.ok ? refund.reservationId : '', micros: -100, now: NOW + DAY });
        expect(await ledger.balance(key, NOW + DAY)).toMatchObject({ spentMicros: 0, dailySpentMicros: 0 });
        const today = await ledger.reserve({ reservationId: id('r'), chain, micros: 100, now: NOW + DAY, ttlMs: HOUR });
        expect(today.ok).toBe(true);
        // Today's cap is spent whatever was credited: a credit is no daily allowance.
        const more = await ledger.reserve({ reservationId: id('r'), chain, micros: 1, now: NOW + DAY, ttlMs: HOUR });
        expect(more).toMatchObject({ ok: false, cap: 'daily' });
        // And a credit on the day of the charge does not reopen that day either.
        const sameDay = await ledger.reserve({ reservationId: id('r'), chain, micros: 0, now: NOW + DAY, ttlMs: HOUR });
        await ledger.settle({ reservationId: sameDay.ok ? sameDay.reservationId : '', micros: -100, now: NOW + DAY });
        expect(
          await ledger.reserve({ reservationId: id('r'), chain, micros: 1, now: NOW + DAY, ttlMs: HOUR }),
        ).toMatchObject({
          ok: false,
          cap: 'daily',
        });
      });

      it('should release the difference when the actual cost is lower', async () => {
        const ledger = await create();
        const [child, root] = [id('child'), id('root')];
        const reservationId = id('r');
        await ledger.reserve({
          reservationId,
          chain: [{ keyId: child }, { keyId: root, capMicros: 500 }],
          micros: 400,
          now: NOW,
          ttlMs: HOUR,
        });
        await ledger.settle({ reservationId, micros: 250, now: NOW + 1 });
        for (const key of [child, root]) {
          expect(await ledger.balance(key, NOW + 1)).toMatchObject({
            spentMicros: 250,
            reservedMicros: 0,
            dailySpentMicros: 250,
          });
        }
        expect(
          (
            await ledger.reserve({
              reservationId: id('r'),
              chain: [{ keyId: root, capMicros: 500 }],
              micros: 250,
              now: NOW,
              ttlMs: HOUR,
            })
          ).ok,
        ).toBe(true);
      });

      it('should settle a vendor error that moved no money to 0', async () => {
        const ledger = await create();
        const key = id('k');
        const reservationId = id('r');
        await ledger.reserve({
          reservationId,
          chain: [{ keyId: key, capMicros: 100 }],
          micros: 100,
          now: NOW,
          ttlMs: HOUR,
        });
        await ledger.settle({ reservationId, micros: 0, now: NOW });
        expect(await ledger.balance(key, NOW)).toMatchObject({ spentMicros: 0, reservedMicros: 0, calls: 1 });
      });

      it('should replace an earlier settlement (late reconciliation) without double counting', async () => {
        const ledger = await create();
        const key = id('k');
        const reservationId = id('r');
        await ledger.reserve({ reservationId, chain: [{ keyId: key }], micros: 8_300, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId, micros: 8_300, now: NOW, awaitsLatePrice: true });
        await ledger.settle({ reservationId, micros: 16_600, now: NOW + 10 });
        await ledger.settle({ reservationId, micros: 16_600, now: NOW + 20 });
        expect(await ledger.balance(key, NOW)).toMatchObject({ spentMicros: 16_600, reservedMicros: 0 });
      });

      it('should forget a reservation settled without awaiting a late price (a second settle is ignored)', async () => {
        const ledger = await create();
        const key = id('k');
        const reservationId = id('r');
        await ledger.reserve({ reservationId, chain: [{ keyId: key }], micros: 8_300, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId, micros: 5_000, now: NOW });
        await ledger.settle({ reservationId, micros: 16_600, now: NOW + 10 });
        expect(await ledger.balance(key, NOW)).toMatchObject({ spentMicros: 5_000, reservedMicros: 0, calls: 1 });
      });

      it('should let the real settle replace an expired reservation that was counted at its estimate', async () => {
        const ledger = await create();
        const key = id('k');
        const reservationId = id('r');
        await ledger.reserve({ reservationId, chain: [{ keyId: key }], micros: 8_300, now: NOW, ttlMs: 1_000 });
        expect(await ledger.balance(key, NOW + 5_000)).toMatchObject({ spentMicros: 8_300, reservedMicros: 0 });
        await ledger.settle({ reservationId, micros: 2_000, now: NOW + 6_000 });
        expect(await ledger.balance(key, NOW + 6_000)).toMatchObject({ spentMicros: 2_000, reservedMicros: 0 });
      });

      it('should count a reservation settled twice at once only once', async () => {
        const ledger = await create();
        const [child, root] = [id('child'), id('root')];
        const reservationId = id('r');
        const chain = [{ keyId: child }, { keyId: root }];
        await ledger.reserve({ reservationId, chain, micros: 500, now: NOW, ttlMs: HOUR });
        await Promise.all([
          ledger.settle({ reservationId, micros: 300, now: NOW + 1 }),
          ledger.settle({ reservationId, micros: 300, now: NOW + 1 }),
        ]);
        for (const key of [child, root]) {
          expect(await ledger.balance(key, NOW + 1)).toMatchObject({
            spentMicros: 300,
            reservedMicros: 0,
            dailySpentMicros: 300,
          });
        }
      });

      it('should apply a late price to every key of the chain, and to the day of the call', async () => {
        const ledger = await create();
        const [child, root] = [id('child'), id('root')];
        const chain = [{ keyId: child }, { keyId: root, capMicros: 100_000, dailyCapMicros: 20_000 }];
        const reservationId = id('r');
        await ledger.reserve({ reservationId, chain, micros: 8_300, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId, micros: 8_300, now: NOW, awaitsLatePrice: true });
        await ledger.settle({ reservationId, micros: 16_600, now: NOW + 10 });
        for (const key of [child, root]) {
          expect(await ledger.balance(key, NOW + 10)).toMatchObject({
            spentMicros: 16_600,
            reservedMicros: 0,
            dailySpentMicros: 16_600,
          });
        }
        expect(
          await ledger.reserve({ reservationId: id('r'), chain, micros: 3_401, now: NOW + 20, ttlMs: HOUR }),
        ).toMatchObject({ ok: false, keyId: root, cap: 'daily', spent: 16_600 });
      });

      it('should re-price a call of unknown outcome once, only upward, on every key, and nothing else', async () => {
        const ledger = await create();
        // Optional: a ledger without it leaves such a call at its estimate.
        if (!ledger.repriceUnknown) return;
        const [child, root] = [id('child'), id('root')];
        const chain = [{ keyId: child }, { keyId: root }];
        const [unknown, known, lower] = [id('unknown'), id('known'), id('lower')];
        for (const reservationId of [unknown, known, lower])
          await ledger.reserve({ reservationId, chain, micros: 1_000, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId: unknown, micros: 1_000, now: NOW, outcomeUnknown: true });
        await ledger.settle({ reservationId: known, micros: 1_000, now: NOW, awaitsLatePrice: true });
        await ledger.settle({ reservationId: lower, micros: 1_000, now: NOW, outcomeUnknown: true });
        // Not more than it holds, or not settled with its outcome unknown: nothing changes.
        expect(await ledger.repriceUnknown({ reservationId: lower, micros: 600, now: NOW + 1 })).toBe(0);
        expect(await ledger.repriceUnknown({ reservationId: known, micros: 5_000, now: NOW + 1 })).toBe(0);
        expect(await ledger.repriceUnknown({ reservationId: id('nope'), micros: 5_000, now: NOW + 1 })).toBe(0);
        expect(await ledger.repriceUnknown({ reservationId: unknown, micros: 5_000, now: NOW + 1 })).toBe(4_000);
        // Once: a second replay's answer adds nothing.
        expect(await ledger.repriceUnknown({ reservationId: unknown, micros: 9_000, now: NOW + 2 })).toBe(0);
        for (const key of [child, root]) {
          expect(await ledger.balance(key, NOW + 2)).toMatchObject({
            spentMicros: 7_000,
            reservedMicros: 0,
            dailySpentMicros: 7_000,
          });
        }
        // The known call still takes its late price.
        await ledger.settle({ reservationId: known, micros: 2_000, now: NOW + 3 });
        expect(await ledger.balance(root, NOW + 3)).toMatchObject({ spentMicros: 8_000 });
      });

      it('should ignore an unknown reservation id', async () => {
        const ledger = await create();
        await expect(ledger.settle({ reservationId: id('nope'), micros: 5, now: NOW })).resolves.toBeUndefined();
      });
    });

    describe('malformed limits', () => {
      it('should refuse a limit that is not a whole number of micro-dollars or calls, and reserve nothing', async () => {
        const ledger = await create();
        const key = id('k');
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, 1.5])
          for (const limit of [{ capMicros: bad }, { dailyCapMicros: bad }, { maxCalls: bad }])
            await expect(
              ledger.reserve({
                reservationId: id('r'),
                chain: [{ keyId: key }, { keyId: id('root'), ...limit }],
                micros: 5,
                now: NOW,
                ttlMs: HOUR,
              }),
            ).rejects.toThrow(RangeError);
        expect(await ledger.balance(key, NOW)).toMatchObject({ reservedMicros: 0, calls: 0 });
      });
    });

    describe('amounts at the edge of exact integers', () => {
      // 2^53 - 1 micro-dollars: read back exactly (a reply parsed as a float would be off by one).
      const MAX = Number.MAX_SAFE_INTEGER;

      it('should report an amount just below 2^53 exactly in a balance', async () => {
        const ledger = await create();
        const key = id('k');
        const micros = MAX - 10;
        await ledger.reserve({
          reservationId: id('r'),
          chain: [{ keyId: key, capMicros: MAX }],
          micros,
          now: NOW,
          ttlMs: HOUR,
        });
        expect(await ledger.balance(key, NOW)).toMatchObject({ reservedMicros: micros, dailyReservedMicros: micros });
      });

      it('should deny a call past a cap of 2^53 - 1 as a cap denial, with exact figures', async () => {
        const ledger = await create();
        const key = id('k');
        const chain = [{ keyId: key, capMicros: MAX }];
        await ledger.reserve({ reservationId: id('r'), chain, micros: MAX, now: NOW, ttlMs: HOUR });
        expect(await ledger.reserve({ reservationId: id('r'), chain, micros: 1, now: NOW, ttlMs: HOUR })).toEqual({
          ok: false,
          keyId: key,
          cap: 'total',
          limit: MAX,
          spent: 0,
          reserved: MAX,
        });
      });

      it('should report exactly what re-pricing a call up to 2^53 - 1 added', async () => {
        const ledger = await create();
        if (!ledger.repriceUnknown) return;
        const key = id('k');
        const reservationId = id('r');
        await ledger.reserve({ reservationId, chain: [{ keyId: key }], micros: 10, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId, micros: 10, now: NOW, outcomeUnknown: true });
        expect(await ledger.repriceUnknown({ reservationId, micros: MAX, now: NOW + 1 })).toBe(MAX - 10);
        expect(await ledger.balance(key, NOW + 1)).toMatchObject({ spentMicros: MAX });
      });
    });

    describe('settlement edges', () => {
      it("should move a late price into the day's spend as well as the lifetime spend", async () => {
        const ledger = await create();
        const key = id('k');
        const chain = [{ keyId: key, dailyCapMicros: 20_000 }];
        const reservationId = id('r');
        await ledger.reserve({ reservationId, chain, micros: 8_300, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId, micros: 8_300, now: NOW, awaitsLatePrice: true });
        await ledger.settle({ reservationId, micros: 12_000, now: NOW + 10 });
        expect(await ledger.balance(key, NOW + 10)).toMatchObject({ spentMicros: 12_000, dailySpentMicros: 12_000 });
        expect(
          await ledger.reserve({ reservationId: id('r'), chain, micros: 8_001, now: NOW + 20, ttlMs: HOUR }),
        ).toMatchObject({ ok: false, cap: 'daily', spent: 12_000 });
      });

      it("should count a re-settled credit's new amount only once in the day", async () => {
        const ledger = await create();
        const key = id('k');
        const reservationId = id('r');
        await ledger.reserve({ reservationId, chain: [{ keyId: key }], micros: 0, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId, micros: -100, now: NOW, awaitsLatePrice: true });
        await ledger.settle({ reservationId, micros: 50, now: NOW + 1 });
        expect(await ledger.balance(key, NOW + 1)).toMatchObject({ spentMicros: 50, dailySpentMicros: 50 });
      });

      it("should release the day's reservation when a call settles, so the daily cap counts it once", async () => {
        const ledger = await create();
        const key = id('k');
        const chain = [{ keyId: key, dailyCapMicros: 1_000 }];
        const reservationId = id('r');
        await ledger.reserve({ reservationId, chain, micros: 400, now: NOW, ttlMs: HOUR });
        await ledger.settle({ reservationId, micros: 100, now: NOW });
        expect(await ledger.balance(key, NOW)).toMatchObject({ dailySpentMicros: 100, dailyReservedMicros: 0 });
        expect((await ledger.reserve({ reservationId: id('r'), chain, micros: 900, now: NOW, ttlMs: HOUR })).ok).toBe(
          true,
        );
      });

      it('should refuse a negative reservation', async () => {
        const ledger = await create();
        await expect(
          ledger.reserve({ reservationId: id('r'), chain: [{ keyId: id('k') }], micros: -1, now: NOW, ttlMs: HOUR }),
        ).rejects.toThrow(RangeError);
      });

      it('should not tell a retry its original is open once the original has expired, however soon', async () => {
        const ledger = await create();
        const key = id('k');
        const reserve = (now: number, ttlMs: number) =>
          ledger.reserve({
            reservationId: id('r'),
            chain: [{ keyId: key }],
            micros: 5,
            now,
            ttlMs,
            idempotencyKey: 'soon',
          });
        const original = await reserve(NOW, 500);
        expect(await reserve(NOW + 600, 500)).toMatchObject({
          ok: true,
          replayOf: original.ok ? original.reservationId : '',
          originalOpen: false,
        });
      });

      it("should not forget another reservation's idempotency key when an old one is settled at 0 again", async () => {
        const ledger = await create();
        const key = id('k');
        const reserve = (now: number) =>
          ledger.reserve({
            reservationId: id('r'),
            chain: [{ keyId: key }],
            micros: 600,
            now,
            ttlMs: HOUR,
            idempotencyKey: 'sms-1',
          });
        const first = await reserve(NOW);
        const firstId = first.ok ? first.reservationId : '';
        // A queued SMS settled at its estimate, whose real price comes back 0: its key is forgotten.
        await ledger.settle({ reservationId: firstId, micros: 0, now: NOW + 1, awaitsLatePrice: true });
        const second = await reserve(NOW + 2);
        expect(second.ok && second.replayOf).toBe(undefined);
        // The same late price is delivered twice: the second must not free the key the new call holds.
        await ledger.settle({ reservationId: firstId, micros: 0, now: NOW + 3 });
        expect(await reserve(NOW + 4)).toMatchObject({ ok: true, replayOf: second.ok ? second.reservationId : '' });
        expect((await ledger.balance(key, NOW + 4)).calls).toBe(2);
      });
    });

    describe('expiry', () => {
      it('should count an unsettled reservation as spent once it expires', async () => {
        const ledger = await create();
        const key = id('k');
        await ledger.reserve({
          reservationId: id('r'),
          chain: [{ keyId: key, capMicros: 1000 }],
          micros: 700,
          now: NOW,
          ttlMs: 1000,
        });
        const later = NOW + 5_000;
        expect(await ledger.balance(key, later)).toMatchObject({ spentMicros: 700, reservedMicros: 0 });
        expect(
          (
            await ledger.reserve({
              reservationId: id('r'),
              chain: [{ keyId: key, capMicros: 1000 }],
              micros: 301,
              now: later,
              ttlMs: 1000,
            })
          ).ok,
        ).toBe(false);
      });
    });

    describe('expiry, whoever sweeps it', () => {
      it("should count an expired reservation the same after an unrelated chain's call, and still replay its idempotency key", async () => {
        const ledger = await create();
        const [member, session, other] = [id('member'), id('session'), id('other')];
        const chain = [
          { keyId: member, capMicros: 1_000 },
          { keyId: session, capMicros: 1_500 },
        ];
        const original = await ledger.reserve({
          reservationId: id('r'),
          chain,
          micros: 700,
          now: NOW,
          ttlMs: 1_000,
          idempotencyKey: 'idem-crashed',
        });
        // The original's caller crashed; an unrelated chain's call comes first after its expiry.
        expect(
          (
            await ledger.reserve({
              reservationId: id('r'),
              chain: [{ keyId: other }],
              micros: 5,
              now: NOW + 2_000,
              ttlMs: HOUR,
            })
          ).ok,
        ).toBe(true);
        for (const keyId of [member, session])
          expect(await ledger.balance(keyId, NOW + 2_001)).toMatchObject({
            spentMicros: 700,
            reservedMicros: 0,
            calls: 1,
          });
        expect(await ledger.balance(other, NOW + 2_001)).toMatchObject({ spentMicros: 0, reservedMicros: 5, calls: 1 });
        const retry = (micros: number, idempotencyKey?: string) =>
          ledger.reserve({ reservationId: id('r'), chain, micros, now: NOW + 2_002, ttlMs: HOUR, idempotencyKey });
        expect(await retry(700, 'idem-crashed')).toMatchObject({
          ok: true,
          replayOf: original.ok ? original.reservationId : '',
          originalOpen: false,
        });
        expect(await retry(301)).toMatchObject({ ok: false, keyId: member, cap: 'total', spent: 700 });
      });
    });

    describe('expiry, seen at once', () => {
      it('should report an expired reservation as spent on the next balance, however soon after the last', async () => {
        const ledger = await create();
        const key = id('k');
        await ledger.reserve({ reservationId: id('r'), chain: [{ keyId: key }], micros: 700, now: NOW, ttlMs: 1_500 });
        await ledger.balance(key, NOW + 1_000);
        expect(await ledger.balance(key, NOW + 1_600)).toMatchObject({ spentMicros: 700, reservedMicros: 0 });
      });

      it('should keep the idempotency key of a reservation that expired unsettled, even at 0, and let its replay re-price it', async () => {
        const ledger = await create();
        const key = id('k');
        const reserve = (now: number) =>
          ledger.reserve({
            reservationId: id('r'),
            chain: [{ keyId: key, maxCalls: 5 }],
            micros: 0,
            now,
            ttlMs: 1_000,
            idempotencyKey: 'idem-expired',
          });
        const original = await reserve(NOW);
        // The caller crashed: its call may have run at the vendor, so a retry is still a replay.
        await ledger.balance(key, NOW + 5_000);
        expect(await reserve(NOW + 5_001)).toMatchObject({
          ok: true,
          replayOf: original.ok ? original.reservationId : '',
          originalOpen: false,
        });
        expect((await ledger.balance(key, NOW + 5_001)).calls).toBe(1);
        // The replay's answer says what the call cost: counted once, like any call of unknown outcome.
        if (!ledger.repriceUnknown || !original.ok) return;
        expect(
          await ledger.repriceUnknown({ reservationId: original.reservationId, micros: 700, now: NOW + 5_002 }),
        ).toBe(700);
        expect(await ledger.balance(key, NOW + 5_002)).toMatchObject({ spentMicros: 700, calls: 1 });
      });

      it('should let a replay re-price an original that expired unsettled, however soon after the last sweep', async () => {
        const ledger = await create();
        if (!ledger.repriceUnknown) return;
        const [key, other] = [id('k'), id('other')];
        const reserve = (reservationId: string, keyId: string, now: number, ttlMs: number, idempotencyKey?: string) =>
          ledger.reserve({ reservationId, chain: [{ keyId }], micros: 700, now, ttlMs, idempotencyKey });
        // Another call first (a ledger may sweep then, and not again for a while).
        await reserve(id('r'), other, NOW, HOUR);
        const original = id('r');
        await reserve(original, key, NOW + 100, 100, 'idem-soon');
        // Its settlement failed; it expired at NOW + 200, and its retry comes at NOW + 500.
        expect(await reserve(id('r'), key, NOW + 500, 100, 'idem-soon')).toMatchObject({ replayOf: original });
        expect(await ledger.repriceUnknown({ reservationId: original, micros: 5_000, now: NOW + 600 })).toBe(4_300);
        expect(await ledger.balance(key, NOW + 700)).toMatchObject({ spentMicros: 5_000, reservedMicros: 0 });
      });
    });

    describe('daily caps', () => {
      it('should reset the daily window at 00:00 UTC but keep the lifetime total', async () => {
        const ledger = await create();
        const key = id('k');
        const limits: LedgerLimit[] = [{ keyId: key, dailyCapMicros: 100, capMicros: 150 }];
        const lateToday = Date.UTC(2026, 10, 26, 23, 59, 59);
        const reservationId = id('r');
        await ledger.reserve({ reservationId, chain: limits, micros: 100, now: lateToday, ttlMs: HOUR });
        await ledger.settle({ reservationId, micros: 100, now: lateToday });
        expect(
          await ledger.reserve({ reservationId: id('r'), chain: limits, micros: 1, now: lateToday, ttlMs: HOUR }),
        ).toMatchObject({ ok: false, cap: 'daily' });
        const tomorrow = Date.UTC(2026, 10, 27, 0, 0, 1);
        expect(
          (await ledger.reserve({ reservationId: id('r'), chain: limits, micros: 50, now: tomorrow, ttlMs: HOUR })).ok,
        ).toBe(true);
        expect(
          await ledger.reserve({ reservationId: id('r'), chain: limits, micros: 1, now: tomorrow, ttlMs: HOUR }),
        ).toMatchObject({ ok: false, cap: 'total' });
        expect(await ledger.balance(key, tomorrow)).toMatchObject({
          dailyReservedMicros: 50,
          dailySpentMicros: 0,
          spentMicros: 100,
        });
      });
    });

    describe('daily caps, in any time zone', () => {
      it('should key the daily window by the UTC day whatever the process time zone', async ({ skip }) => {
        const saved = process.env.TZ;
        process.env.TZ = 'America/Los_Angeles';
        try {
          // Worker threads (vitest --pool=threads) do not apply a TZ set at run time.
          if (new Date(Date.UTC(2026, 10, 27, 0, 30)).getDate() !== 26) skip('TZ cannot be changed in this worker');
          const ledger = await create();
          const chain = [{ keyId: id('k'), dailyCapMicros: 100 }];
          const reserve = (now: number) =>
            ledger.reserve({ reservationId: id('r'), chain, micros: 100, now, ttlMs: HOUR });
          // 23:30 and 00:30 UTC: two UTC days, one Los Angeles afternoon.
          expect((await reserve(Date.UTC(2026, 10, 26, 23, 30))).ok).toBe(true);
          expect((await reserve(Date.UTC(2026, 10, 27, 0, 30))).ok).toBe(true);
          // 06:00 and 10:00 UTC: one UTC day, either side of Los Angeles midnight.
          expect((await reserve(Date.UTC(2026, 10, 28, 6))).ok).toBe(true);
          expect(await reserve(Date.UTC(2026, 10, 28, 10))).toMatchObject({ ok: false, cap: 'daily' });
        } finally {
          if (saved === undefined) delete process.env.TZ;
          else process.env.TZ = saved;
        }
      });
    });

    describe('expired keys', () => {
      it('should keep a key’s totals for the retention after it expires, and its parent’s while that lives', async () => {
        const ledger = await create();
        const [member, session] = [id('member'), id('session')];
        const expiresAt = NOW + HOUR;
        const parent = { keyId: session, capMicros: 1_000, expiresAt: NOW + 30 * DAY_MS };
        const reservationId = id('r');
        const chain = [{ keyId: member, capMicros: 1_000, expiresAt }, parent];
        await ledger.reserve({ reservationId, chain, micros: 400, now: NOW, ttlMs: 60_000 });
        await ledger.settle({ reservationId, micros: 400, now: NOW });
        const lastDay = expiresAt + EXPIRED_KEY_RETENTION_MS - 1;
        expect(await ledger.balance(member, lastDay)).toMatchObject({ spentMicros: 400, calls: 1 });
        // Past the member's retention (plus time for hourly clean-ups), the live session still has its spend.
        const later = expiresAt + EXPIRED_KEY_RETENTION_MS + 2 * HOUR;
        expect(await ledger.balance(session, later)).toMatchObject({ spentMicros: 400, calls: 1 });
        expect(
          await ledger.reserve({
            reservationId: id('r'),
            chain: [{ keyId: id('m2') }, parent],
            micros: 601,
            now: later,
            ttlMs: HOUR,
          }),
        ).toMatchObject({ ok: false, keyId: session, cap: 'total', spent: 400 });
      });
    });

    describe('concurrency', () => {
      it('should never let concurrent reservations exceed a shared cap', async () => {
        const ledger = await create();
        const [a, b, root] = [id('a'), id('b'), id('root')];
        const attempts = Array.from({ length: 200 }, (_, index) =>
          ledger.reserve({
            reservationId: id('r'),
            chain: [
              index % 2 === 0 ? { keyId: a, capMicros: 150_000_000 } : { keyId: b, capMicros: 50_000_000 },
              { keyId: root, capMicros: 200_000_000 },
            ],
            micros: 3_000_000,
            now: NOW,
            ttlMs: HOUR,
          }),
        );
        const results = await Promise.all(attempts);
        const granted = results.filter((result) => result.ok).length;
        const [balanceA, balanceB, balanceRoot] = await Promise.all(
          [a, b, root].map((key) => ledger.balance(key, NOW)),
        );
        expect(balanceRoot?.reservedMicros).toBe(granted * 3_000_000);
        expect(balanceRoot?.reservedMicros).toBeLessThanOrEqual(200_000_000);
        expect(balanceA?.reservedMicros).toBeLessThanOrEqual(150_000_000);
        expect(balanceB?.reservedMicros).toBeLessThanOrEqual(50_000_000);
        expect((balanceA?.reservedMicros ?? 0) + (balanceB?.reservedMicros ?? 0)).toBe(balanceRoot?.reservedMicros);
        expect(granted).toBe(66);
      });

      it('should hold every cap under any interleaving of reserves and settles (property)', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.record({
                member: fc.integer({ min: 0, max: 2 }),
                micros: fc.integer({ min: 0, max: 40 }),
                actualPercent: fc.integer({ min: 0, max: 100 }),
                settle: fc.boolean(),
                delayBefore: fc.integer({ min: 0, max: 3 }),
                delayBetween: fc.integer({ min: 0, max: 3 }),
              }),
              { minLength: 1, maxLength: 60 },
            ),
            async (calls) => {
              const ledger = await options.create();
              try {
                const root = { keyId: id('root'), capMicros: 200 };
                const members = [
                  { keyId: id('m0'), capMicros: 150 },
                  { keyId: id('m1'), capMicros: 50 },
                  { keyId: id('m2'), capMicros: 120, maxCalls: 5 },
                ];
                let expectedSpent = 0;
                const tasks = calls.map(async (call) => {
                  await yieldTimes(call.delayBefore);
                  const reservationId = id('r');
                  const result = await ledger.reserve({
                    reservationId,
                    chain: [members[call.member] as LedgerLimit, root],
                    micros: call.micros,
                    now: NOW,
                    ttlMs: HOUR,
                  });
                  if (result.ok && call.settle) {
                    const actual = Math.floor((call.micros * call.actualPercent) / 100);
                    await yieldTimes(call.delayBetween);
                    await ledger.settle({ reservationId, micros: actual, now: NOW });
                    expectedSpent += actual;
                  } else if (result.ok) {
                    expectedSpent += call.micros; // never settled: stays reserved
                  }
                });
                await Promise.all(tasks);
                const rootBalance = await ledger.balance(root.keyId, NOW);
                expect(rootBalance.spentMicros + rootBalance.reservedMicros).toBe(expectedSpent);
                expect(rootBalance.spentMicros + rootBalance.reservedMicros).toBeLessThanOrEqual(root.capMicros);
                let membersTotal = 0;
                for (const member of members) {
                  const balance = await ledger.balance(member.keyId, NOW);
                  expect(balance.spentMicros + balance.reservedMicros).toBeLessThanOrEqual(member.capMicros);
                  if (member.maxCalls !== undefined) expect(balance.calls).toBeLessThanOrEqual(member.maxCalls);
                  membersTotal += balance.spentMicros + balance.reservedMicros;
                }
                expect(membersTotal).toBe(rootBalance.spentMicros + rootBalance.reservedMicros);
              } finally {
                await ledger.close?.();
              }
            },
          ),
          { numRuns: options.propertyRuns ?? 25 },
        );
      });
    });
  });
}
