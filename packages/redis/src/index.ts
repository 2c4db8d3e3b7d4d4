export { createRedisAuditSink, type RedisAuditSinkOptions } from './audit/create-redis-audit-sink.js';
export type { RedisConnectionOptions } from './connection/open-redis-connection.js';
export { redactRedisUrl } from './connection/redact-redis-url.js';
export { createRedisStorage, type RedisStorage, type RedisStorageOptions } from './create-redis-storage.js';
export { createRedisLedger, type RedisLedgerOptions } from './ledger/create-redis-ledger.js';
export { createRedisKeyStore, type RedisKeyStoreOptions } from './storage/create-redis-key-store.js';
export { type RedisServer, type RedisServerOptions, startRedisServer } from './testing/start-redis-server.js';
