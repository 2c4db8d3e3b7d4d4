import type { StorageError } from '../errors/storage-error.js';

/** Options of {@link createAuditWriteQueue}. */
export interface AuditWriteQueueOptions<T> {
  /**
   * Writes one batch, oldest item first. Rejecting keeps the whole batch queued: it is written
   * again a second later, or on the next `drain()`, so a store should accept a batch written twice
   * (the audit sinks read one version of each record id).
   */
  write: (batch: readonly T[]) => Promise<unknown>;
  /** Most items per `write`. @default Infinity (everything queued) */
  batchSize?: number | undefined;
  /** Most items held; past it the oldest not being written right now are dropped and reported. */
  maxQueued: number;
  /** Called with every failure and drop (the errors the `describe*` options build). @default a process warning */
  report?: ((error: StorageError) => void) | undefined;
  /** The error a failed write is reported and `drain()` rejects with; `queued` items stay queued. */
  describeFailure: (cause: unknown, queued: number) => StorageError;
  /** The error reported when `dropped` items are dropped past `maxQueued`. */
  describeDrop: (dropped: number) => StorageError;
  /** The error reported for an item pushed after `close()`, which is lost. */
  describeLost: (item: T) => StorageError;
  /**
   * When a push starts a drain: `'microtask'` (the default), or `'immediate'` to gather the items
   * of a whole turn of the event loop into one batch.
   */
  schedule?: 'microtask' | 'immediate' | undefined;
}

/** A queue of records written in batches, in order, off the call's path. See {@link createAuditWriteQueue}. */
export interface AuditWriteQueue<T> {
  /** Queues one item; never throws. A drain follows on its own unless a retry is already waiting. */
  push(item: T): void;
  /** Resolves once everything pushed before it is written; rejects with the failure if it cannot be. */
  drain(): Promise<void>;
  /** Drains, then stops retrying; items pushed later are reported lost. Rejects as `drain()` does. */
  close(): Promise<void>;
  /** Items queued, including a batch being written. */
  readonly size: number;
}

/** How long a failed write waits before it is tried again without a `drain()`. */
const RETRY_MS = 1_000;

/**
 * The queue under Keybrake's JSONL and Redis audit sinks, for custom sinks that write to slower
 * stores: `push` from `AuditSink.write` (which must not wait or throw), `drain` from `flush` and
 * `query`, `close` from `close`. Writes run one at a time, in push order. After a failed write
 * the queue retries every second on its own (calls in between do not each retry and report);
 * while the store is down it holds at most `maxQueued` items, dropping the oldest not in flight.
 *
 * @example
 * ```ts
 * const queue = createAuditWriteQueue<AuditRecord>({
 *   write: (batch) => db.insertMany(batch),
 *   maxQueued: 100_000,
 *   report: (error) => log.error(error),
 *   describeFailure: (cause, queued) => new StorageError({ message: `${queued} record(s) stay queued.`, cause }),
 *   describeDrop: (dropped) => new StorageError({ message: `Dropped ${dropped} record(s).` }),
 *   describeLost: (record) => new StorageError({ message: `Record ${record.id} was lost.` }),
 * });
 * const sink: AuditSink = { write: (record) => queue.push(record), flush: queue.drain, close: queue.close, query };
 * ```
 */
export function createAuditWriteQueue<T>(options: AuditWriteQueueOptions<T>): AuditWriteQueue<T> {
  const { write, maxQueued } = options;
  const report =
    options.report ??
    ((error: StorageError) => process.emitWarning(error.message, { code: error.code, detail: String(error.cause) }));
  const batchSize = Math.min(options.batchSize ?? Number.POSITIVE_INFINITY, maxQueued);
  const schedule = options.schedule === 'immediate' ? setImmediate : queueMicrotask;
  /** Queued items, oldest first, each with its push number (drops leave gaps). */
  let queue: { seq: number; item: T }[] = [];
  let pushed = 0;
  /** Callers of `drain()`, each waiting for the items up to its push number. */
  let waiters: { upTo: number; resolve: () => void; reject: (error: StorageError) => void }[] = [];
  let pumping = false;
  let scheduled = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;
  /** How many items at the head of the queue are being written right now. */
  let sending = 0;

  /** Resolves the waiters whose items are all written (or dropped); with a failure, rejects the rest. */
  const answerWaiters = (failure?: StorageError) => {
    const head = queue[0]?.seq ?? Number.POSITIVE_INFINITY;
    const waiting = waiters;
    waiters = [];
    for (const waiter of waiting) {
      if (waiter.upTo < head) waiter.resolve();
      else if (failure) waiter.reject(failure);
      else waiters.push(waiter);
    }
  };
  // One write at a time: a single loop writes batches while items are queued, so a steady stream
  // of pushes never piles up writes behind each other, and a drain waits only for its own items.
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, batchSize);
        sending = batch.length;
        try {
          await write(batch.map((queued) => queued.item));
        } catch (cause) {
          const failure = options.describeFailure(cause, queue.length);
          report(failure);
          if (!closed) retryTimer ??= setTimeout(retry, RETRY_MS).unref();
          answerWaiters(failure);
          return;
        } finally {
          sending = 0;
        }
        queue = queue.slice(batch.length);
        answerWaiters();
      }
    } finally {
      pumping = false;
    }
  };
  const drain = (): Promise<void> => {
    const last = queue.at(-1);
    if (!last) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => waiters.push({ upTo: last.seq, resolve, reject }));
    void pump();
    return done;
  };
  function retry() {
    retryTimer = undefined;
    void pump();
  }

  return {
    push(item) {
      if (closed) {
        report(options.describeLost(item));
        return;
      }
      pushed += 1;
      queue.push({ seq: pushed, item });
      if (queue.length > maxQueued) {
        const dropped = queue.splice(sending, queue.length - maxQueued);
        report(options.describeDrop(dropped.length));
        answerWaiters();
      }
      // A running write loop takes the item; after a failure the retry timer does, so pushes do
      // not each retry (and report).
      if (pumping || scheduled || retryTimer) return;
      scheduled = true;
      schedule(() => {
        scheduled = false;
        void pump();
      });
    },
    drain,
    async close() {
      if (closed) return;
      try {
        await drain();
      } finally {
        closed = true;
        clearTimeout(retryTimer);
        retryTimer = undefined;
      }
    },
    get size() {
      return queue.length;
    },
  };
}
