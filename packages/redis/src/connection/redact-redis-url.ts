/**
 * Shows where a Redis URL points without its credentials: `redis://user:secret@host:6380/2` →
 * `redis://host:6380/2`. Used in every error message, so a password never reaches a log, an
 * audit record or a model's prompt.
 *
 * @param url - A `redis://` or `rediss://` URL.
 * @returns The scheme, host, port and database; `a Redis URL that cannot be parsed` if `url` is malformed.
 * @example
 * ```ts
 * redactRedisUrl('redis://:hunter2@10.0.0.5:6379/1'); // 'redis://10.0.0.5:6379/1'
 * ```
 */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const database = parsed.pathname === '/' ? '' : parsed.pathname;
    return `${parsed.protocol}//${parsed.host}${database}`;
  } catch {
    return 'a Redis URL that cannot be parsed';
  }
}
