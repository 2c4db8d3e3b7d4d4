import { type AuditRecord, EXPIRED_KEY_RETENTION_MS, type KeyRecord, type KeyStore, type Ledger } from '@keybrake/core';
import KeyvRedis from '@keyv/redis';
import type { RedisClientType } from '@redis/client';
import Keyv from 'keyv';
import { createRedisScript } from '../connection/create-redis-script.js';
import {
  openRedisConnection,
  type RedisConnection,
  type RedisConnectionOptions,
} from '../connection/open-redis-connection.js';

/** Options of {@link createRedisKeyStore}. */
export interface RedisKeyStoreOptions extends RedisConnectionOptions {
  /**
   * Prepended to every key; every replica of one vault must use the same prefix.
   * @default 'keybrake:'
   */
  prefix?: string | undefined;
}

/**
 * Marks records revoked, first time wins, only if they exist; a marker expires with its record.
 * ARGV: prefix, at, ids….
 */
const revokeScript = createRedisScript(`
local P = ARGV[1]
for i = 3, #ARGV do
  local ttl = redis.call('PTTL', P .. 'key:' .. ARGV[i])
  if ttl > 0 then
    redis.call('SET', P .. 'revoked:' .. ARGV[i], ARGV[2], 'NX', 'PX', ttl)
  elseif ttl == -1 then
    redis.call('SET', P .. 'revoked:' .. ARGV[i], ARGV[2], 'NX')
  end
end
return 1
`);

/**
 * Indexes a child under its parent; the index expires with the parent's record (a child never
 * outlives its parent). ARGV: prefix, parent id, child id.
 */
const addChildScript = createRedisScript(`
local index = ARGV[1] .. 'children:' .. ARGV[2]
redis.call('SADD', index, ARGV[3])
local ttl = redis.call('PTTL', ARGV[1] .. 'key:' .. ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', index, ttl) end
return 1
`);

/** How long a key chain read from Redis is reused (its revocations are read on every call, or by the ledger). */
const CHAIN_CACHE_TTL_MS = 60_000;
/** The most key chains kept per key store. */
const CHAIN_CACHE_SIZE = 10_000;

/** A key chain as stored, reused by `getChain` until `until` (epoch ms). */
interface CachedChain {
  records: KeyRecord[];
  /** The chain's revocation markers, in chain order. */
  revokedKeys: string[];
  until: number;
}

/** Keyv's stored form of a record: the value and its expiry (epoch ms), if any. */
type StoredRecord = { value?: KeyRecord; expires?: number };

/** A JSON string value (after `:`, `[` or `,`) that starts with a colon: Keyv's reviver would change it. */
const COLON_STRING_VALUE = /[[,:]\s*":/;

/**
 * A key record and its ancestors in one round trip. ARGV: prefix, id. Reply: the stored record and
 * its revocation time, then the same for each ancestor named in the record (nil where missing);
 * empty if the key is unknown. The records are returned as stored: they are decoded in Node.
 */
const chainScript = createRedisScript(`
local P = ARGV[1]
local raw = redis.call('GET', P .. 'key:' .. ARGV[2])
if not raw then return {} end
local out = { raw, redis.call('GET', P .. 'revoked:' .. ARGV[2]) }
local ok, data = pcall(cjson.decode, raw)
local ids = ok and type(data) == 'table' and type(data.value) == 'table' and data.value.ancestorIds
if type(ids) == 'table' then
  for _, id in ipairs(ids) do
    out[#out + 1] = redis.call('GET', P .. 'key:' .. id)
    out[#out + 1] = redis.call('GET', P .. 'revoked:' .. id)
  end
end
return out
`);

/**
 * Creates the Redis {@link KeyStore}, shared by every replica of a vault. Key records go through
 * Keyv (`@keyv/redis`, errors thrown, never a silent miss) under `{prefix}key:{id}`; what Keyv
 * cannot do atomically uses native commands: a revocation is `SET NX` of `{prefix}revoked:{id}`
 * in one Lua script (the first revocation time wins), children are a Redis set (`SADD`), and a
 * pending late price is taken with `GETDEL`. Revocations are read from Redis on every call, so a
 * revocation through one replica denies the very next call through any other. Key records never
 * change once written, so `getChain` keeps the chains it has read (up to 10,000, for up to a
 * minute each) and reads a known chain again as one `MGET` of its revocation markers instead of a
 * script, or, read with `{ revocations: false }` (by a vault whose ledger is this store's
 * `revocationsCheckedBy`, which checks them in its reserve script), without a round trip; a record
 * deleted from Redis out of band can thus be served for up to that minute (revoke keys instead:
 * that is seen at once). A key's record, revocation marker and children set
 * expire in Redis `EXPIRED_KEY_RETENTION_MS` after the key does.
 *
 * @param options - The Redis connection and key prefix; see {@link RedisKeyStoreOptions}.
 * @returns The key store. `close()` closes the connection it opened.
 * @throws {StorageError} from every method when Redis cannot be reached or fails (the call is
 *   denied: fail closed), and from the factory when no URL is configured.
 * @example
 * ```ts
 * const keyStore = createRedisKeyStore({ url: 'redis://127.0.0.1:6379', prefix: 'acme:' });
 * const vault = createVault({ keyStore, ledger: createRedisLedger({ prefix: 'acme:' }), secrets });
 * ```
 */
export function createRedisKeyStore(options: RedisKeyStoreOptions = {}): KeyStore {
  return createKeyStoreOn(openRedisConnection(options), options.prefix);
}

/**
 * The key store on an already opened connection, which it releases on `close()`; used by
 * `createRedisStorage` to share one connection.
 * @internal
 */
export function createKeyStoreOn(
  connection: RedisConnection,
  prefix = 'keybrake:',
  revocationsCheckedBy?: Ledger,
): KeyStore {
  const store = new KeyvRedis<KeyRecord>(connection.client, { throwOnErrors: true, throwOnConnectError: true });
  const keyv = new Keyv<KeyRecord>({ store, useKeyPrefix: false, throwOnErrors: true });
  // Keys are named here in full (`{prefix}key:{id}`), not by Keyv's namespace.
  keyv.namespace = undefined;
  // Keyv re-emits store errors; they are thrown to the caller, this only keeps the emitter from crashing.
  keyv.on('error', () => {});

  const recordKey = (id: string) => `${prefix}key:${id}`;
  const revokedKey = (id: string) => `${prefix}revoked:${id}`;
  const childrenKey = (id: string) => `${prefix}children:${id}`;
  const pendingKey = (ref: string) => `${prefix}pending:${ref}`;
  const withRevocation = <R extends KeyRecord | undefined>(record: R, revokedAt: string | null | undefined): R =>
    record === undefined || revokedAt === null || revokedAt === undefined
      ? record
      : { ...record, revokedAt: Number(revokedAt) };
  const readMany = async (client: RedisClientType, ids: readonly string[]) => {
    if (ids.length === 0) return [];
    const [records, revocations] = await Promise.all([
      keyv.getMany(ids.map(recordKey)),
      client.mGet(ids.map(revokedKey)),
    ]);
    return ids.map((_, index) => withRevocation(records[index] ?? undefined, revocations[index]));
  };
  /**
   * Keyv's stored form of a record, read back. Keyv's serialiser writes compact JSON and marks only
   * string values that start with `:` (escaped, or `:base64:` buffers), so JSON with no string
   * value starting with `:` parses to the same thing directly, without Keyv's per-value reviver.
   */
  const deserialize = (raw: string): StoredRecord | Promise<StoredRecord | undefined> =>
    COLON_STRING_VALUE.test(raw) ? keyv.deserializeData<KeyRecord>(raw) : (JSON.parse(raw) as StoredRecord);
  /**
   * Key chains read before, as stored: a key record never changes once written (its revocation is
   * kept apart, under `revoked:`), so a chain read again needs only its revocation markers: one
   * `MGET`, always from Redis. Entries are dropped after {@link CHAIN_CACHE_TTL_MS} (a record
   * deleted out of band stops being served then) and, oldest first, past {@link CHAIN_CACHE_SIZE}.
   */
  const chains = new Map<string, CachedChain>();
  const cacheChain = (id: string, records: KeyRecord[]) => {
    if (chains.size >= CHAIN_CACHE_SIZE) chains.delete(chains.keys().next().value as string);
    chains.set(id, {
      records,
      revokedKeys: records.map((record) => revokedKey(record.id)),
      until: Date.now() + CHAIN_CACHE_TTL_MS,
    });
  };
  let closed = false;

  return {
    shared: true,
    revocationsCheckedBy,
    get: (id) =>
      connection.run('read a key', async (client) => {
        const [record, revokedAt] = await Promise.all([keyv.get(recordKey(id)), client.get(revokedKey(id))]);
        return withRevocation(record ?? undefined, revokedAt);
      }),

    getChain: (id, options) => {
      // Revocations left to the ledger's reservation (`revocationsCheckedBy`): a known chain costs
      // no round trip at all.
      if (options?.revocations === false && !closed) {
        const cached = chains.get(id);
        if (cached !== undefined && cached.until > Date.now())
          return Promise.resolve(cached.records.slice() as [KeyRecord, ...KeyRecord[]]);
      }
      return connection.run('read a key chain', async (client) => {
        const cached = chains.get(id);
        if (cached !== undefined) {
          if (cached.until > Date.now()) {
            const revocations = await client.mGet(cached.revokedKeys);
            const chain = cached.records.slice() as [KeyRecord, ...KeyRecord[]];
            for (let index = 0; index < chain.length; index++) {
              chain[index] = withRevocation(chain[index] as KeyRecord, revocations[index]);
            }
            return chain;
          }
          chains.delete(id);
        }
        const reply = (await chainScript.run(client, [prefix, id])) as Array<string | null>;
        if (reply.length === 0) return undefined;
        const now = Date.now();
        // Kept only if every record is there and none has a storage expiry (the vault sets none).
        let cacheable = true;
        const decode = async (index: number) => {
          const raw = reply[index];
          const data = typeof raw === 'string' ? await deserialize(raw) : undefined;
          if (data?.value === undefined || typeof data.expires === 'number') cacheable = false;
          return data && (typeof data.expires !== 'number' || data.expires > now) ? data.value : undefined;
        };
        const record = await decode(0);
        if (record === undefined) return undefined;
        // The script read the ancestors it found in the record; if it could not, read them by name.
        if (reply.length !== 2 + 2 * record.ancestorIds.length)
          return [withRevocation(record, reply[1]), ...(await readMany(client, record.ancestorIds))];
        const stored: Array<KeyRecord | undefined> = [record];
        for (let index = 2; index < reply.length; index += 2) stored.push(await decode(index));
        if (cacheable) cacheChain(id, stored as KeyRecord[]);
        return stored.map((entry, index) => withRevocation(entry, reply[2 * index + 1])) as [
          KeyRecord,
          ...Array<KeyRecord | undefined>,
        ];
      });
    },

    getMany: (ids) => connection.run('read keys', (client) => readMany(client, ids)),

    create: (record) =>
      connection.run('store a key', async (client) => {
        // Indexed under the parent first: a stored record is always reachable by a revocation cascade.
        if (record.parentId) await addChildScript.run(client, [prefix, record.parentId, record.id]);
        const { revokedAt: _revokedAt, ...rest } = record;
        // Expired by Redis itself (not Keyv's TTL, which would mark the stored value and keep the
        // chain out of the cache), relative to the issuing vault's clock.
        const keep = Math.max(1, record.expiresAt + EXPIRED_KEY_RETENTION_MS - record.createdAt);
        await keyv.set(recordKey(record.id), rest);
        await client.pExpire(recordKey(record.id), keep);
        if (record.revokedAt !== undefined)
          await client.set(revokedKey(record.id), String(record.revokedAt), { NX: true, PX: keep });
        // A revocation between the two commands above found the record without a TTL and wrote
        // its marker without one: it gets the record's (a no-op when there is no marker).
        await client.pExpire(revokedKey(record.id), keep);
      }),

    revoke: (ids, at) =>
      connection.run('revoke keys', async (client) => {
        if (ids.length === 0) return;
        await revokeScript.run(client, [prefix, String(at), ...ids]);
      }),

    children: (id) => connection.run('read child keys', (client) => client.sMembers(childrenKey(id))),

    putPending: (ref, record, ttlMs) =>
      connection.run('remember a pending price', async (client) => {
        await client.set(pendingKey(ref), JSON.stringify(record), { PX: Math.max(1, Math.round(ttlMs)) });
      }),

    getPending: (ref) =>
      connection.run('read a pending price', async (client) => {
        const value = await client.get(pendingKey(ref));
        return value === null ? undefined : (JSON.parse(value) as AuditRecord);
      }),

    takePending: (ref) =>
      connection.run('read a pending price', async (client) => {
        const value = await client.getDel(pendingKey(ref));
        return value === null ? undefined : (JSON.parse(value) as AuditRecord);
      }),

    async close() {
      if (closed) return;
      closed = true;
      await connection.release();
    },
  };
}
