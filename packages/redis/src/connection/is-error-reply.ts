/**
 * Whether `error` is an error reply from Redis (`ERR`, `NOSCRIPT`, `OOM`, `READONLY`, `WRONGPASS`, …)
 * rather than a failure to reach it. Told by shape, not `instanceof`: a client the user passes in
 * may come from another installed copy of `@redis/client` (the `redis` package pins its own), whose
 * `ErrorReply` is another class. node-redis throws a subclass of it (`SimpleError`, `BlobError`),
 * so the whole prototype chain is searched for a class named `ErrorReply`.
 *
 * @param error - What a command threw.
 * @returns `true` for an error reply of any copy of `@redis/client`.
 * @example
 * ```ts
 * if (isErrorReply(error) && error.message.startsWith('NOSCRIPT')) await client.eval(source, options);
 * ```
 */
export function isErrorReply(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  for (let proto: unknown = Object.getPrototypeOf(error); proto; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: unknown } }).constructor?.name === 'ErrorReply') return true;
  }
  return false;
}
