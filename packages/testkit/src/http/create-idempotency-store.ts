import type { FakeResponse } from './fake-response.js';

/**
 * Result of looking up an idempotency key.
 *
 * @example
 * ```ts
 * const lookup: IdempotencyLookup = { kind: 'miss' };
 * ```
 */
export type IdempotencyLookup =
  | { kind: 'miss' }
  | { kind: 'replay'; response: FakeResponse }
  | { kind: 'endpoint-mismatch'; endpoint: string }
  | { kind: 'payload-mismatch' };

/**
 * Remembers the response given to each idempotency key, so a retry is answered from memory.
 *
 * @example
 * ```ts
 * const store = createIdempotencyStore();
 * store.save({ key: 'k1', endpoint: 'POST /v1/charges', payload: 'amount=100', response });
 * ```
 */
export interface IdempotencyStore {
  /**
   * Looks a key up against the request it arrives with.
   *
   * @param request - The key, the endpoint (`METHOD /path`) and a canonical form of the payload.
   * @returns `miss`, a stored response to replay, or which part differs from the first use.
   */
  lookup(request: { key: string; endpoint: string; payload: string }): IdempotencyLookup;
  /**
   * Stores the response given to a key's first use.
   *
   * @param entry - The key, endpoint, payload and the response sent.
   */
  save(entry: { key: string; endpoint: string; payload: string; response: FakeResponse }): void;
  /** Forgets every key. */
  clear(): void;
}

/**
 * Creates an in-memory idempotency store shared by the fakes that support `Idempotency-Key`.
 *
 * @returns An empty store.
 * @example
 * ```ts
 * const store = createIdempotencyStore();
 * store.lookup({ key: 'k1', endpoint: 'POST /emails', payload: '{}' }); // { kind: 'miss' }
 * ```
 */
export function createIdempotencyStore(): IdempotencyStore {
  const entries = new Map<string, { endpoint: string; payload: string; response: FakeResponse }>();
  return {
    lookup({ key, endpoint, payload }) {
      const entry = entries.get(key);
      if (!entry) return { kind: 'miss' };
      if (entry.endpoint !== endpoint) return { kind: 'endpoint-mismatch', endpoint: entry.endpoint };
      if (entry.payload !== payload) return { kind: 'payload-mismatch' };
      return { kind: 'replay', response: structuredClone(entry.response) };
    },
    save({ key, endpoint, payload, response }) {
      entries.set(key, { endpoint, payload, response: structuredClone(response) });
    },
    clear() {
      entries.clear();
    },
  };
}
