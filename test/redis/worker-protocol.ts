/** How a vault worker is configured (its first command-line argument, as JSON). */
export interface WorkerConfig {
  /** Which worker this is; sent upstream as `x-worker`. */
  index: number;
  redisUrl: string;
  prefix: string;
  upstreamUrl: string;
  /** The vault's reservation TTL, e.g. `'5s'`: at least 2 × `upstreamTimeout` + 1s. */
  reservationTtl: string;
  /** The vault's upstream timeout, e.g. `'2s'`. */
  upstreamTimeout: string;
}

/** One vendor call a worker makes through its vault. */
export interface WorkerCall {
  vaultKey: string;
  path: string;
}

/** What a call came back with. */
export interface WorkerCallResult {
  status: number;
  code: string | undefined;
  auditId: string;
}

/** Commands the test sends a worker; each is answered by a {@link WorkerReply} with the same `id`. */
export type WorkerCommand =
  /**
   * Makes all `calls` concurrently, from `startAt` (epoch ms) if given so several workers start
   * together, each after a random delay of up to `spreadMs` so the workers' calls interleave.
   */
  | { id: number; type: 'run'; calls: WorkerCall[]; startAt?: number; spreadMs?: number }
  | { id: number; type: 'revoke'; keyId: string }
  | { id: number; type: 'stream'; call: WorkerCall; concurrency: number }
  | { id: number; type: 'stop' };

/** Messages a worker sends: replies (with the command's `id`) and unsolicited acknowledgements. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'reply'; id: number; results?: WorkerCallResult[]; revoked?: string[] }
  | { type: 'error'; id: number; message: string }
  /** A call answered to the worker's client, its audit record already durable in Redis. */
  | { type: 'ack'; auditId: string; status: number };
