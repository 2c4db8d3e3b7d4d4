import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StorageError } from '../errors/storage-error.js';
import type { AuditRecord, AuditSink } from './audit-record.js';
import { queryAuditRecords } from './query-audit-records.js';

/** Options of {@link createJsonlAuditSink}. */
export interface JsonlAuditSinkOptions {
  /** The append-only file, one JSON record per line. Created if missing. */
  path: string;
  /**
   * Called when an append fails (the records stay queued and are appended again a second later,
   * or on the next flush) and when queued records are dropped past `maxQueued`. Default: a
   * process warning.
   */
  onError?: ((error: StorageError) => void) | undefined;
  /**
   * Most records held in memory while the file cannot be appended to; past it the oldest are
   * dropped and reported through `onError`. Default 100,000.
   */
  maxQueued?: number | undefined;
}

/** How long a failed append waits before it is tried again without a flush. */
const RETRY_MS = 1_000;

/**
 * An append-only JSON Lines audit sink that survives restarts. Writes are batched off the call's
 * path and appended in order; `flush()` waits for them. Queries read the whole file (the last
 * line for an id wins), so several processes' files can be queried together with
 * {@link readJsonlAuditRecords}.
 *
 * @example
 * ```ts
 * const audit = createJsonlAuditSink({ path: '.keybrake/audit.jsonl' });
 * ```
 */
export function createJsonlAuditSink(options: JsonlAuditSinkOptions): AuditSink {
  const maxQueued = options.maxQueued ?? 100_000;
  const report =
    options.onError ??
    ((error: StorageError) => process.emitWarning(error.message, { code: error.code, detail: String(error.cause) }));
  let pending: string[] = [];
  let writing: Promise<void> = Promise.resolve();
  let scheduled = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;
  /** How many records at the head of `pending` are being appended right now. */
  let sending = 0;
  /** Set once a batch was appended: the directory exists and the file ends with a whole line. */
  let prepared = false;

  const drain = (): Promise<void> => {
    writing = writing.then(async () => {
      if (pending.length === 0) return;
      const batch = pending.slice();
      sending = batch.length;
      try {
        let lead = '';
        if (!prepared) {
          await mkdir(dirname(options.path), { recursive: true });
          // A crash or a failed append can leave a torn last line: end it, so the first new
          // record stays whole.
          if (await endsMidLine(options.path)) lead = '\n';
        }
        await appendFile(options.path, lead + batch.join(''));
        prepared = true;
        pending = pending.slice(batch.length);
      } catch (cause) {
        // The failed append may have written part of the batch: look at the file's end again.
        prepared = false;
        const error = new StorageError({
          message: `Keybrake could not append to the audit log ${options.path}; ${pending.length} record(s) stay queued and are retried.`,
          cause,
        });
        report(error);
        if (!closed) retryTimer ??= setTimeout(retry, RETRY_MS).unref();
        throw error;
      } finally {
        sending = 0;
      }
    });
    const result = writing;
    writing = writing.catch(() => {});
    return result;
  };
  function retry() {
    retryTimer = undefined;
    drain().catch(() => {});
  }

  return {
    write(record) {
      if (closed) {
        report(
          new StorageError({ message: `Keybrake's JSONL audit sink is closed; audit record ${record.id} was lost.` }),
        );
        return;
      }
      pending.push(`${escapeLineSeparators(JSON.stringify(record))}\n`);
      if (pending.length > maxQueued) {
        // The oldest records not being appended right now are dropped.
        const dropped = pending.splice(sending, pending.length - maxQueued);
        report(
          new StorageError({
            message: `Keybrake dropped ${dropped.length} audit record(s): more than ${maxQueued} were waiting to be appended to ${options.path}.`,
          }),
        );
      }
      // After a failure the retry timer drains; until then, calls do not each retry (and report).
      if (scheduled || retryTimer) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        drain().catch(() => {});
      });
    },
    async query(query) {
      await drain();
      return queryAuditRecords(await readJsonlAuditRecords([options.path]), query);
    },
    flush: () => drain(),
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
  };
}

/**
 * JSON leaves U+2028 and U+2029 raw; readers that split lines on them (Node's readline, Python's
 * `splitlines`) would tear such a record in two. Escaped, the line means the same JSON.
 */
function escapeLineSeparators(json: string): string {
  return /[\u2028\u2029]/.test(json) ? json.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029') : json;
}

/** Whether a file exists and its last byte is not a newline. */
async function endsMidLine(path: string): Promise<boolean> {
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    file = await open(path, 'r');
    const { size } = await file.stat();
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    await file.read(last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  } finally {
    await file?.close();
  }
}

/**
 * Reads the records of one or more JSON Lines audit files (e.g. one per replica), merged; for a
 * record id written more than once, the copy with the highest `revision` wins (a late price),
 * and among equals the last line read. Missing files are skipped.
 */
export async function readJsonlAuditRecords(paths: readonly string[]): Promise<AuditRecord[]> {
  const byId = new Map<string, AuditRecord>();
  for (const path of paths) {
    try {
      // Split on \n alone: a record written before U+2028/U+2029 were escaped holds them raw.
      let rest = '';
      const keep = (line: string) => {
        if (!line.trim()) return;
        try {
          const record = JSON.parse(line) as AuditRecord;
          const kept = byId.get(record.id);
          if (!kept || (record.revision ?? 0) >= (kept.revision ?? 0)) byId.set(record.id, record);
        } catch {
          // A torn line from a crash or a failed append is skipped; every complete line is kept.
        }
      };
      for await (const chunk of createReadStream(path, 'utf8')) {
        const lines = (rest + (chunk as string)).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) keep(line);
      }
      keep(rest);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return [...byId.values()];
}
