import { createHash } from 'node:crypto';
import type { RedisClientType } from '@redis/client';
import { isErrorReply } from './is-error-reply.js';

/** A Lua script run by its SHA-1 (`EVALSHA`), sent in full (`EVAL`) only when the server does not know it yet. */
export interface RedisScript {
  /** The script's SHA-1, hex. */
  readonly sha: string;
  /** Runs the script with no `KEYS` and these `ARGV`; the reply is returned as Redis sent it. */
  run(client: RedisClientType, args: readonly string[]): Promise<unknown>;
}

/**
 * Wraps a Lua script for `EVALSHA` with an `EVAL` fallback on `NOSCRIPT` (a restarted or new
 * Redis), which also caches it for the next call. Works with any client, including one you pass in
 * from another installed copy of `@redis/client` (see {@link isErrorReply}).
 *
 * @param source - The Lua source.
 * @returns The {@link RedisScript}.
 * @example
 * ```ts
 * const ping = createRedisScript("return redis.call('PING')");
 * await ping.run(client, []); // 'PONG'
 * ```
 */
export function createRedisScript(source: string): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    sha,
    async run(client, args) {
      const options = { arguments: [...args] };
      try {
        return await client.evalSha(sha, options);
      } catch (error) {
        if (!(isErrorReply(error) && error.message.startsWith('NOSCRIPT'))) throw error;
        return client.eval(source, options);
      }
    },
  };
}
