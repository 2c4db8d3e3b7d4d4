import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StorageError } from '../errors/storage-error.js';
import type { AuditRecord, AuditSink } from './audit-record.js';
import { createAuditWriteQueue } from './create-audit-write-queue.js';
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
  /** Set once a batch was appended: the directory exists and the file ends with a whole line. */
  let prepared = false;
  const queue = createAuditWriteQueue<{ id: string; line: string }>({
    async write(batch) {
      try {
        let lead = '';
        if (!prepared) {
          await mkdir(dirname(options.path), { recursive: true });
          // A crash or a failed append can leave a torn last line: end it, so the first new
          // record stays whole.
          if (await endsMidLine(options.path)) lead = '\n';
        }
        await appendFile(options.path, lead + batch.map((queued) => queued.line).join(''));
        prepared = true;
      } catch (cause) {
        // The failed append may have written part of the batch: look at the file's end again.
        prepared = false;
        throw cause;
      }
    },
    maxQueued,
    report: options.onError,
    describeFailure: (cause, queued) =>
      new StorageError({
        message: `Keybrake could not append to the audit log ${options.path}; ${queued} record(s) stay queued and are retried.`,
        cause,
      }),
    describeDrop: (dropped) =>
      new StorageError({
        message: `Keybrake dropped ${dropped} audit record(s): more than ${maxQueued} were waiting to be appended to ${options.path}.`,
      }),
    describeLost: ({ id }) =>
      new StorageError({ message: `Keybrake's JSONL audit sink is closed; audit record ${id} was lost.` }),
  });

  return {
    write: (record) => queue.push({ id: record.id, line: `${escapeLineSeparators(JSON.stringify(record))}\n` }),
    async query(query) {
      await queue.drain();
      return queryAuditRecords(await readJsonlAuditRecords([options.path]), query);
    },
    flush: queue.drain,
    close: queue.close,
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
