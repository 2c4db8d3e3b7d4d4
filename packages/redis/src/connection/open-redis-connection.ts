import { parseDuration, StorageError } from '@keybrake/core';
import { createClient, type RedisClientType } from '@redis/client';
import { isErrorReply } from './is-error-reply.js';
import { redactRedisUrl } from './redact-redis-url.js';

/** How every Redis-backed Keybrake store connects. */
export interface RedisConnectionOptions {
  /**
   * A node-redis client (`createClient()` of `@redis/client` or `redis`) to share. You own it: it is
   * connected if needed but never closed by Keybrake. Prefer `url`, which configures fail-fast
   * behaviour (`disableOfflineQueue`, bounded reconnects) for you.
   */
  client?: RedisClientType | undefined;
  /**
   * `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS). Ignored when `client` is given.
   * @default process.env.KEYBRAKE_REDIS_URL
   */
  url?: string | undefined;
  /**
   * How long one Redis command may take before the call it serves is denied (a hung server must
   * not hang calls): seconds, or `"500ms"`, `"5s"`.
   * @default '5s'
   */
  commandTimeout?: string | number | undefined;
  /**
   * How long the first operation waits for the initial connection; afterwards, while Redis is
   * unreachable, operations fail at once. Seconds, or `"2s"`.
   * @default '5s'
   */
  connectTimeout?: string | number | undefined;
}

/** A shared, reference-counted Redis connection that turns every failure into a {@link StorageError}. */
export interface RedisConnection {
  readonly client: RedisClientType;
  /** The URL without credentials, for messages. */
  readonly where: string;
  /**
   * Runs Redis commands, failing fast while disconnected and after `commandTimeout`. Commands the
   * task sent before the timeout may still run once Redis answers; a task not yet started then (it
   * waits for a read of Redis' eviction policy after each connection) never is.
   * @param operation - What is being done, for messages (`reserve a call`).
   * @param task - The commands.
   * @param consequence - What a failure means, ending the message.
   * @throws {StorageError} on any failure; the message never contains credentials.
   */
  run<T>(operation: string, task: (client: RedisClientType) => Promise<T>, consequence?: string): Promise<T>;
  /** Adds a user of the connection. */
  retain(): void;
  /** Removes a user; the last one closes a connection Keybrake opened. */
  release(): Promise<void>;
}

const DENIED = 'the call is denied.';
/** How long a read of Redis' eviction policy is trusted before it is read again (off the call path). */
const POLICY_RECHECK_MS = 60_000;
/** Reconnect delays grow to this bound and stay there: Redis coming back is noticed within it. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** The longest delay a Node timer keeps (2^31 − 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Opens (or adopts) the node-redis client behind a Redis-backed store. A client opened from a URL
 * has its offline queue disabled (commands fail at once while disconnected instead of waiting) and
 * reconnects forever with delays bounded by one second.
 *
 * @param options - See {@link RedisConnectionOptions}.
 * @returns A connection with one user.
 * @throws {StorageError} if neither `client` nor a URL is given, or the URL is malformed.
 * @example
 * ```ts
 * const connection = openRedisConnection({ url: 'redis://127.0.0.1:6379' });
 * const pong = await connection.run('ping', (client) => client.ping());
 * await connection.release();
 * ```
 */
export function openRedisConnection(options: RedisConnectionOptions): RedisConnection {
  // Past what a timer can wait (about 24.8 days), Node fires it after 1 ms instead: wait that long at most.
  const commandTimeoutMs = Math.min(parseDuration(options.commandTimeout ?? '5s'), MAX_TIMER_MS);
  const connectTimeoutMs = Math.min(parseDuration(options.connectTimeout ?? '5s'), MAX_TIMER_MS);
  const owned = options.client === undefined;
  let client: RedisClientType;
  let where: string;
  let lastError: unknown;
  if (options.client) {
    client = options.client;
    const clientOptions = client.options;
    const socket = clientOptions?.socket;
    where = clientOptions?.url
      ? redactRedisUrl(clientOptions.url)
      : socket && 'host' in socket
        ? `redis://${socket.host ?? 'localhost'}:${socket.port ?? 6379}`
        : 'the configured Redis server';
  } else {
    const url = options.url ?? process.env.KEYBRAKE_REDIS_URL;
    if (!url) {
      throw new StorageError({
        message: 'Keybrake has no Redis URL: pass `url` (or a `client`) or set KEYBRAKE_REDIS_URL.',
      });
    }
    where = redactRedisUrl(url);
    try {
      client = createClient({
        url,
        disableOfflineQueue: true,
        socket: {
          connectTimeout: connectTimeoutMs,
          reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
        },
      });
    } catch {
      // No `cause`: a URL parser's error carries the input, password included.
      throw new StorageError({
        message: URL.canParse(url)
          ? `Keybrake cannot use the Redis URL ${where}: it is malformed.`
          : 'Keybrake cannot use the Redis URL: it cannot be parsed as a URL.',
      });
    }
  }
  // node-redis emits every socket error; without a listener an 'error' event would crash the process.
  const onError = (error: unknown) => {
    lastError = error;
  };
  client.on('error', onError);

  let users = 1;
  let closed = false;
  /** Until the first connection (or the end of the first wait for it), operations wait instead of failing. */
  let initial = !client.isReady;
  let firstConnect: Promise<void> | undefined;
  /**
   * Redis' eviction policy, as last read. Under any policy but `noeviction` Redis may evict keys
   * when memory runs short — under `volatile-*` those with a TTL, which Keybrake's spend totals and
   * revocation markers have (until 8 days after their key expires) — and silently reopen caps and
   * revoked keys, so every operation is refused (fail closed) while it is in force.
   */
  let policy: { evicting: string | undefined; at: number } | undefined;
  let policyRead: Promise<void> | undefined;
  const readPolicy = (): Promise<void> => {
    policyRead ??= (client.info('memory') as Promise<string>)
      .then(
        (text) => {
          const name = /^maxmemory_policy:(\S+)/m.exec(String(text))?.[1];
          policy = { evicting: name && name !== 'noeviction' ? name : undefined, at: Date.now() };
        },
        () => {
          // INFO renamed or refused (some managed services do): the policy cannot be told; the
          // README asks for noeviction.
          policy = { evicting: undefined, at: Date.now() };
        },
      )
      .finally(() => {
        policyRead = undefined;
      });
    return policyRead;
  };
  const checkPolicy = async (consequence: string): Promise<void> => {
    if (!policy) await readPolicy();
    else if (Date.now() - policy.at > POLICY_RECHECK_MS) void readPolicy();
    if (policy?.evicting) {
      throw new StorageError({
        message: `Redis at ${where} may evict Keybrake's keys (maxmemory-policy ${policy.evicting}): spend totals and revocations could vanish and reopen caps. Set maxmemory-policy to noeviction; until then ${consequence}`,
      });
    }
  };
  const onReady = () => {
    initial = false;
    // A reconnection may be to a restarted server with another configuration.
    policy = undefined;
  };
  client.on('ready', onReady);
  if (!client.isOpen) {
    client.connect().catch((error: unknown) => {
      lastError = error;
    });
  }

  /** Before the first connection only: waits for it, bounded by `connectTimeout`. */
  const awaitFirstConnect = (): Promise<void> => {
    firstConnect ??= new Promise<void>((resolve) => {
      const timer = setTimeout(done, connectTimeoutMs);
      function done() {
        clearTimeout(timer);
        client.off('ready', done);
        // After the first wait, operations fail fast until Redis is back.
        initial = false;
        resolve();
      }
      client.on('ready', done);
    });
    return firstConnect;
  };

  const unreachable = (
    consequence: string,
    cause: unknown,
    // A refused handshake (wrong password, unknown user) says why; a refused connection says enough.
    detail = isErrorReply(cause) ? ` (${cause.message})` : '',
  ) => new StorageError({ message: `Keybrake cannot reach Redis at ${where}${detail}; ${consequence}`, cause });

  const toStorageError = (operation: string, consequence: string, error: unknown): StorageError => {
    if (StorageError.isInstance(error) && error.code === 'KEYBRAKE_STORAGE_ERROR') return error as StorageError;
    // A refusal (OOM, READONLY, NOSCRIPT) is not an outage, whichever copy of @redis/client made the client.
    if (isErrorReply(error)) {
      return new StorageError({
        message: `Redis at ${where} refused to ${operation} (${error.message}); ${consequence}`,
        cause: error,
      });
    }
    return unreachable(consequence, error);
  };

  return {
    client,
    where,
    async run(operation, task, consequence = DENIED) {
      if (closed) {
        throw new StorageError({
          message: `Keybrake's connection to Redis at ${where} is closed; ${consequence}`,
        });
      }
      if (!client.isReady && initial) await awaitFirstConnect();
      if (!client.isReady) throw unreachable(consequence, lastError);
      let timer: NodeJS.Timeout | undefined;
      let started = false;
      let timedOut = false;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          const detail = started
            ? ` (no answer within ${commandTimeoutMs} ms)`
            : ` (no answer within ${commandTimeoutMs} ms to the read of its eviction policy, so nothing was sent to ${operation})`;
          reject(unreachable(consequence, lastError, detail));
        }, commandTimeoutMs);
      });
      const start = () => {
        // A task not started when its time ran out never starts. Its caller was told it failed and
        // reasons from what it had handed to the client by then: a settlement hooks `onLateSettle`
        // only on a script it sent, a failed reservation is released, a failed revocation or key
        // write is reported as not done. Started once Redis answered the policy read, it would take
        // effect with no one told. (Hooking a late result instead would mend the settlement only.)
        if (timedOut) return timeout;
        started = true;
        return task(client);
      };
      try {
        // The common case, a safe policy read within the last minute, costs no extra await.
        const checked = policy !== undefined && !policy.evicting && Date.now() - policy.at <= POLICY_RECHECK_MS;
        return await Promise.race([checked ? start() : checkPolicy(consequence).then(start), timeout]);
      } catch (error) {
        throw toStorageError(operation, consequence, error);
      } finally {
        clearTimeout(timer);
      }
    },
    retain() {
      users += 1;
    },
    async release() {
      if (closed) return;
      users -= 1;
      if (users > 0) return;
      closed = true;
      client.off('ready', onReady);
      // The 'error' listener stays: a closing socket may still report errors.
      if (!owned || !client.isOpen) return;
      // node-redis' destroy() misses a socket still being connected, which then stays open (and
      // keeps the process alive): let a connection attempt in progress end first.
      if (!client.isReady) await connectAttemptEnded(client, connectTimeoutMs);
      if (client.isReady) {
        // Graceful: waits for replies still in flight, but never longer than a command may take.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          client.close(),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, commandTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
      } else {
        client.destroy();
      }
    },
  };
}

/** Resolves when the client is ready or reports an error (its attempt failed), or after `timeoutMs`. */
function connectAttemptEnded(client: RedisClientType, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('error', done);
      resolve();
    }
    client.on('ready', done);
    client.on('error', done);
  });
}
