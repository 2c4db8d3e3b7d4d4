import {
  type AuditQueryResult,
  type AuditRecord,
  type AuditSink,
  type AuditWriteQueue,
  createAuditWriteQueue,
  parseDuration,
  queryAuditRecords,
  StorageError,
} from '@keybrake/core';
import type { RedisClientType } from '@redis/client';
import { createRedisScript } from '../connection/create-redis-script.js';
import {
  openRedisConnection,
  type RedisConnection,
  type RedisConnectionOptions,
} from '../connection/open-redis-connection.js';

/** Options of {@link createRedisAuditSink}. */
export interface RedisAuditSinkOptions extends RedisConnectionOptions {
  /**
   * The stream every replica appends to. Each session also gets an index stream,
   * `{stream}:root:{rootKeyId}`, so a session's records are read without scanning everyone's.
   * @default 'keybrake:audit'
   */
  stream?: string | undefined;
  /**
   * Approximate length the streams are trimmed to (`XADD … MAXLEN ~`); the oldest records go first.
   * @default 1_000_000
   */
  maxLen?: number | undefined;
  /**
   * How long a session's index stream lives after its last record: seconds, or `"30d"`. A query
   * for a session whose index has expired — or was made anew, without its older records, when the
   * session called again — scans the main stream instead.
   * @default '30d'
   */
  sessionIndexTtl?: string | number | undefined;
  /**
   * Most records held in memory while Redis is unreachable; past it the oldest are dropped and
   * reported through `onError`.
   * @default 100_000
   */
  maxQueued?: number | undefined;
  /**
   * Called when records could not be written (they stay queued and are retried every second) or
   * were dropped. `flush()` rejects with the same error.
   * @default emits a process warning
   */
  onError?: ((error: StorageError) => void) | undefined;
}

const BATCH_SIZE = 500;

/**
 * Appends a batch of audit records, all or none (a script runs atomically): each to the stream
 * and, if it has a root key, to that root's index stream, whose TTL is then renewed once.
 * ARGV: stream, max length (approximate trim), index prefix, index TTL (ms), how long a session is
 * remembered as seen (ms, to mark an index made anew partial), then per record:
 * id, root key id ('' for none), the record as JSON. Reply: the number of records appended.
 */
const appendScript = createRedisScript(`
local stream, maxLen, indexPrefix, ttl, seenTtl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local roots = {}
for i = 6, #ARGV, 3 do
  local id, root, record = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('XADD', stream, 'MAXLEN', '~', maxLen, '*', 'id', id, 'rootKeyId', root, 'record', record)
  if root ~= '' then
    local index = indexPrefix .. root
    if not roots[root] then
      roots[root] = true
      -- An index made anew for a session seen before (its old one expired) lacks the older records.
      if redis.call('EXISTS', index) == 0 and redis.call('EXISTS', index .. ':seen') == 1 then
        redis.call('SET', index .. ':partial', '1')
      end
    end
    redis.call('XADD', index, 'MAXLEN', '~', maxLen, '*', 'id', id, 'rootKeyId', root, 'record', record)
  end
end
for root in pairs(roots) do
  local index = indexPrefix .. root
  redis.call('PEXPIRE', index, ttl)
  redis.call('PEXPIRE', index .. ':partial', ttl)
  redis.call('SET', index .. ':seen', '1', 'PX', seenTtl)
end
return (#ARGV - 5) / 3
`);
const PAGE_SIZE = 1000;
/**
 * How long a session is remembered as seen after its last record, so an index made anew is known
 * partial: 12 index lifetimes, and never less than 400 days (a short `sessionIndexTtl` must not
 * make a session quiet for a few weeks look new).
 */
const seenTtlMs = (indexTtlMs: number) => Math.max(12 * indexTtlMs, 400 * 86_400_000);

/**
 * Creates an {@link AuditSink} on a Redis stream shared by every replica. `write()` only queues:
 * records are appended in batches (one script of `XADD`s per batch) off the call's path; `flush()` resolves
 * once everything written before it is in Redis and rejects if it could not be. Failed batches
 * stay queued and are retried. A record written again with the same id (a late price) supersedes
 * the earlier one: queries keep each id's highest `revision`, whatever order replicas appended them in.
 *
 * @param options - The Redis connection, stream and limits; see {@link RedisAuditSinkOptions}.
 * @returns The audit sink. `close()` flushes, then closes the connection it opened.
 * @throws {StorageError} from `flush()`, `query()` and `close()` when Redis cannot be reached, and
 *   from the factory when no URL is configured.
 * @example
 * ```ts
 * const audit = createRedisAuditSink({ url: process.env.KEYBRAKE_REDIS_URL, onError: (e) => log.error(e) });
 * const vault = createVault({ audit, secrets });
 * const { records, totals } = await vault.queryAudit({ rootKeyId: session.id });
 * ```
 */
export function createRedisAuditSink(options: RedisAuditSinkOptions = {}): AuditSink {
  return createAuditSinkOn(openRedisConnection(options), options);
}

/**
 * The audit sink on an already opened connection, which it releases on `close()`; used by
 * `createRedisStorage` to share one connection.
 * @internal
 */
export function createAuditSinkOn(
  connection: RedisConnection,
  options: Omit<RedisAuditSinkOptions, keyof RedisConnectionOptions> = {},
): AuditSink {
  const stream = options.stream ?? 'keybrake:audit';
  const maxLen = options.maxLen ?? 1_000_000;
  const indexTtlMs = parseDuration(options.sessionIndexTtl ?? '30d');
  const maxQueued = options.maxQueued ?? 100_000;
  /** Each root key's index stream is this prefix and the root key id (the append script adds them the same way). */
  const indexPrefix = `${stream}:root:`;
  const indexKey = (rootKeyId: string) => `${indexPrefix}${rootKeyId}`;

  const appendBatch = (client: RedisClientType, batch: readonly AuditRecord[]) => {
    const args = [stream, String(maxLen), indexPrefix, String(indexTtlMs), String(seenTtlMs(indexTtlMs))];
    for (const record of batch) args.push(record.id, record.rootKeyId ?? '', JSON.stringify(record));
    return appendScript.run(client, args);
  };
  let closed = false;
  // A failed batch is kept and appended again later; a record that lands twice is read once
  // (queries keep one version of each id).
  const queue: AuditWriteQueue<AuditRecord> = createAuditWriteQueue({
    write: (batch) =>
      connection.run(
        'append audit records',
        (client) => appendBatch(client, batch),
        `${queue.size} audit record(s) stay queued and are retried.`,
      ),
    batchSize: BATCH_SIZE,
    maxQueued,
    report: options.onError,
    // A whole turn of the event loop's records go in one script.
    schedule: 'immediate',
    describeFailure: (cause) =>
      StorageError.isInstance(cause)
        ? (cause as StorageError)
        : new StorageError({ message: 'Keybrake could not append audit records to Redis.', cause }),
    describeDrop: (dropped) =>
      new StorageError({
        message: `Keybrake dropped ${dropped} audit record(s): more than ${maxQueued} were waiting for Redis at ${connection.where}.`,
      }),
    describeLost: (record) =>
      new StorageError({ message: `Keybrake's Redis audit sink is closed; audit record ${record.id} was lost.` }),
  });

  const readStream = async (key: string, rootKeyId: string | undefined): Promise<AuditRecord[]> => {
    // Each id in the order of its oldest copy, records handed over oldest first: as the memory and
    // JSONL sinks do, so calls of one millisecond come out in the same order from every sink.
    const byId = new Map<string, AuditRecord>();
    let end = '+';
    for (;;) {
      const page = await connection.run(
        'read audit records',
        (client) => client.sendCommand(['XREVRANGE', key, end, '-', 'COUNT', String(PAGE_SIZE)]),
        'the audit query failed.',
      );
      const { entries, count, lastStreamId } = toEntries(page);
      for (const entry of entries) {
        if (rootKeyId !== undefined && entry.rootKeyId !== rootKeyId) continue;
        // The highest revision wins (replicas append in no common order: one behind on its queue
        // can append revision 0 after another's revision 1); among equals, the newest, seen first.
        const record = JSON.parse(entry.record) as AuditRecord;
        const kept = byId.get(entry.id);
        byId.delete(entry.id); // read newest first: re-inserted, the id moves to its older copy's place
        byId.set(entry.id, !kept || (record.revision ?? 0) > (kept.revision ?? 0) ? record : kept);
      }
      if (count < PAGE_SIZE || lastStreamId === undefined) break;
      end = `(${lastStreamId}`;
    }
    return [...byId.values()].reverse();
  };

  return {
    write: (record) => queue.push(record),

    async query(query): Promise<AuditQueryResult> {
      await queue.drain();
      let key = stream;
      if (query.rootKeyId !== undefined) {
        const index = indexKey(query.rootKeyId);
        const [exists, partial] = await connection.run(
          'read audit records',
          (client) => Promise.all([client.exists(index), client.exists(`${index}:partial`)]),
          'the audit query failed.',
        );
        // An index made anew after the old one expired lacks older records: the main stream has them.
        if (exists === 1 && partial === 0) key = index;
      }
      return queryAuditRecords(await readStream(key, query.rootKeyId), query);
    },

    flush: queue.drain,

    async close() {
      if (closed) return;
      closed = true;
      try {
        await queue.close();
      } catch (error) {
        throw new StorageError({
          message: `Keybrake closed its Redis audit sink with ${queue.size} audit record(s) it could not write; they are lost.`,
          cause: error,
        });
      } finally {
        await connection.release();
      }
    },
  };
}

interface StreamEntry {
  id: string;
  rootKeyId: string;
  record: string;
}

/** Parses a raw `XREVRANGE` reply: `[[streamId, [field, value, …]], …]`; entries not written by a sink are skipped. */
function toEntries(reply: unknown): { entries: StreamEntry[]; count: number; lastStreamId: string | undefined } {
  if (!Array.isArray(reply)) throw new TypeError('Unexpected XREVRANGE reply.');
  const entries: StreamEntry[] = [];
  let lastStreamId: string | undefined;
  for (const item of reply) {
    if (Array.isArray(item)) lastStreamId = String(item[0]);
    if (!Array.isArray(item) || !Array.isArray(item[1])) continue;
    const fields = new Map<string, string>();
    const flat: unknown[] = item[1];
    for (let index = 0; index + 1 < flat.length; index += 2) fields.set(String(flat[index]), String(flat[index + 1]));
    const id = fields.get('id');
    const record = fields.get('record');
    if (id === undefined || record === undefined) continue;
    entries.push({ id, rootKeyId: fields.get('rootKeyId') ?? '', record });
  }
  return { entries, count: reply.length, lastStreamId };
}
