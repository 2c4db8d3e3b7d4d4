import { createReadStream } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { StorageError } from '../errors/storage-error.js';
import type { AuditRecord, AuditSink } from './audit-record.js';
import { queryAuditRecords } from './query-audit-records.js';

/** Options of {@link createJsonlAuditSink}. */
export interface JsonlAuditSinkOptions {
  /** The append-only file, one JSON record per line. Created if missing. */
  path: string;
  /** Called when an append fails (records stay queued and are retried on the next flush). */
  onError?: (error: StorageError) => void;
}

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
  let pending: string[] = [];
  let writing: Promise<void> = Promise.resolve();
  let ready: Promise<unknown> | undefined;

  const drain = (): Promise<void> => {
    writing = writing.then(async () => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      try {
        ready ??= mkdir(dirname(options.path), { recursive: true });
        await ready;
        await appendFile(options.path, batch.join(''));
      } catch (cause) {
        pending = batch.concat(pending);
        const error = new StorageError({
          message: `Keybrake could not append to the audit log ${options.path}.`,
          cause,
        });
        options.onError?.(error);
        throw error;
      }
    });
    const result = writing;
    writing = writing.catch(() => {});
    return result;
  };

  return {
    write(record) {
      pending.push(`${JSON.stringify(record)}\n`);
      if (pending.length === 1) queueMicrotask(() => void drain().catch(() => {}));
    },
    async query(query) {
      await drain();
      return queryAuditRecords(await readJsonlAuditRecords([options.path]), query);
    },
    flush: () => drain(),
    close: () => drain(),
  };
}

/**
 * Reads the records of one or more JSON Lines audit files (e.g. one per replica), merged; for a
 * record id written more than once, the last line wins. Missing files are skipped.
 */
export async function readJsonlAuditRecords(paths: readonly string[]): Promise<AuditRecord[]> {
  const byId = new Map<string, AuditRecord>();
  for (const path of paths) {
    try {
      const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        if (!line.trim()) continue;
        try {
          const record = JSON.parse(line) as AuditRecord;
          byId.set(record.id, record);
        } catch {
          // A torn last line from a crash is skipped; every complete line is kept.
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return [...byId.values()];
}
