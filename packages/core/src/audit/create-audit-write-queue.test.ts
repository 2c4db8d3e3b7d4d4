import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../errors/storage-error.js';
import { type AuditWriteQueueOptions, createAuditWriteQueue } from './create-audit-write-queue.js';

/** A queue over a store that takes `delayMs` per write and records each batch it was given. */
function queueOver(options: Partial<AuditWriteQueueOptions<number>> & { delayMs?: number } = {}) {
  const batches: number[][] = [];
  const errors: string[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const queue = createAuditWriteQueue<number>({
    async write(batch) {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await sleep(options.delayMs ?? 1);
      inFlight -= 1;
      batches.push([...batch]);
    },
    maxQueued: 1000,
    report: (error) => errors.push(error.message),
    describeFailure: (cause, queued) => new StorageError({ message: `${queued} stay queued`, cause }),
    describeDrop: (dropped) => new StorageError({ message: `dropped ${dropped}` }),
    describeLost: (item) => new StorageError({ message: `lost ${item}` }),
    ...options,
  });
  return { queue, batches, errors, mostInFlight: () => mostInFlight };
}

describe('createAuditWriteQueue', () => {
  it('should write one batch at a time, in push order, at most batchSize items each', async () => {
    const { queue, batches, mostInFlight } = queueOver({ batchSize: 3 });
    for (let item = 1; item <= 7; item++) queue.push(item);
    await queue.drain();
    expect(batches.flat()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(Math.max(...batches.map((batch) => batch.length))).toBe(3);
    expect(mostInFlight()).toBe(1);
    expect(queue.size).toBe(0);
  });

  it('should resolve a drain once its own items are written while pushes keep coming', async () => {
    const { queue, batches, errors } = queueOver({ schedule: 'immediate', maxQueued: 1_000_000 });
    let pushing = true;
    let next = 0;
    const pusher = (async () => {
      while (pushing) {
        queue.push(++next);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      await sleep(30);
      const upTo = next;
      const drained = await Promise.race([queue.drain().then(() => 'drained'), sleep(2000, 'still waiting')]);
      expect(drained).toBe('drained');
      expect(batches.flat().slice(0, upTo)).toEqual(Array.from({ length: upTo }, (_, index) => index + 1));
      expect(errors).toEqual([]);
    } finally {
      pushing = false;
      await pusher;
    }
  });

  it('should drop the oldest items not being written past maxQueued, and let a drain waiting on them resolve', async () => {
    const { queue, batches, errors } = queueOver({ maxQueued: 2, delayMs: 20 });
    queue.push(1);
    await sleep(5); // item 1 is being written
    const drained = queue.drain();
    queue.push(2);
    queue.push(3);
    await drained;
    await queue.drain();
    expect(batches.flat()).toEqual([1, 3]);
    expect(errors).toEqual(['dropped 1']);
  });

  it('should reject the drains of a failed write, keep its items, and write them on the next drain', async () => {
    let fail = true;
    const written: number[] = [];
    const errors: string[] = [];
    const queue = createAuditWriteQueue<number>({
      async write(batch) {
        if (fail) throw new Error('disk full');
        written.push(...batch);
      },
      maxQueued: 10,
      report: (error) => errors.push(error.message),
      describeFailure: (cause, queued) => new StorageError({ message: `${queued} stay queued`, cause }),
      describeDrop: (dropped) => new StorageError({ message: `dropped ${dropped}` }),
      describeLost: (item) => new StorageError({ message: `lost ${item}` }),
    });
    queue.push(1);
    queue.push(2);
    await expect(queue.drain()).rejects.toThrow('2 stay queued');
    queue.push(3); // a retry is pending: no write of its own, no second report
    await sleep(5);
    expect(errors).toEqual(['2 stay queued']);
    fail = false;
    await queue.close();
    expect(written).toEqual([1, 2, 3]);
    queue.push(4);
    expect(errors).toEqual(['2 stay queued', 'lost 4']);
  });
});
