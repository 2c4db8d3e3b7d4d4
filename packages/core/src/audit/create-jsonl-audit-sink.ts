import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open } from 'node:fs/promises';
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
  /** Set once a batch was appended: the directory exists and the file ends with a whole line. */
  let prepared = false;

  const drain = (): Promise<void> => {
    writing = writing.then(async () => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      try {
        let lead = '';
        if (!prepared) {
          await mkdir(dirname(options.path), { recursive: true });
          // A crash mid-append leaves a torn last line: end it, so the first new record stays whole.
          if (await endsMidLine(options.path)) lead = '\n';
        }
        await appendFile(options.path, lead + batch.join(''));
        prepared = true;
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
      const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        if (!line.trim()) continue;
        try {
          const record = JSON.parse(line) as AuditRecord;
          const kept = byId.get(record.id);
          if (!kept || (record.revision ?? 0) >= (kept.revision ?? 0)) byId.set(record.id, record);
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
