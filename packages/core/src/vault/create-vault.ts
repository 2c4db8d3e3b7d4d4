import { Agent, type Dispatcher } from 'undici';
import type { AuditQuery, AuditQueryResult, AuditSink } from '../audit/audit-record.js';
import { createMemoryAuditSink } from '../audit/create-memory-audit-sink.js';
import { parseAuditTime } from '../audit/parse-audit-time.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { type CappedFetchOptions, createCappedFetch } from '../fetch/create-capped-fetch.js';
import type { IssuedKey, IssueKeyOptions } from '../keys/issue-key-options.js';
import type { KeyStatus } from '../keys/key-status.js';
import { parseDuration } from '../keys/parse-duration.js';
import type { KeyMode } from '../keys/vault-key-format.js';
import { createMemoryLedger } from '../ledger/create-memory-ledger.js';
import type { Ledger } from '../ledger/ledger.js';
import { createFxTable, type FxRates } from '../money/fx-table.js';
import { type EndpointPattern, parseEndpointPattern } from '../paths/endpoint-matcher.js';
import { createMemoryKeyStore } from '../storage/create-memory-key-store.js';
import type { KeyStore } from '../storage/key-store.js';
import { type BuiltinVendorOptions, builtinVendors } from '../vendors/builtin-vendors.js';
import type { TwilioSecret } from '../vendors/twilio-vendor.js';
import type { VendorDefinition } from '../vendors/vendor-definition.js';
import { getKeyStatus } from './get-key-status.js';
import { handleVaultRequest, settled } from './handle-vault-request.js';
import { issueKey } from './issue-key.js';
import { revokeKey } from './revoke-key.js';
import type { ConfiguredVendor, VaultContext } from './vault-context.js';
import type { VaultRequest, VaultResponse } from './vault-request.js';

const BUILTIN_VENDOR_NAMES: ReadonlySet<string> = new Set(['stripe', 'twilio', 'resend'] satisfies Array<
  keyof BuiltinVendorOptions
>);

/** The real vendor secrets a vault holds. They are never returned, logged or put in errors. */
export interface VaultSecrets {
  /** Stripe secret key, `sk_test_…` / `sk_live_…` / restricted `rk_…`. */
  stripe?: string | undefined;
  twilio?: TwilioSecret | undefined;
  /** Resend API key, `re_…`. */
  resend?: string | undefined;
  /** Secrets of vendors you defined. */
  [vendor: string]: unknown;
}

/** Options of {@link createVault}. */
export interface VaultOptions {
  /** Real vendor secrets. A vendor with no secret refuses every call. */
  secrets?: VaultSecrets;
  /**
   * Override vendors' base URLs (tests, the demo, a regional endpoint). Agents can never choose the host.
   * A name that is not a vendor of this vault throws `InvalidPolicyError`, as for `secrets`.
   * @example { stripe: 'http://127.0.0.1:12111' }
   */
  upstreams?: Record<string, string | undefined>;
  /** Prices of the built-in cost models. @default the documented published rates */
  prices?: BuiltinVendorOptions;
  /** More vendors, or replacements for built-in ones, by name. */
  vendors?: Record<string, VendorDefinition>;
  /** FX rates, USD per unit (`{ eur: 1.08, jpy: '0.0067' }`). A charge in another currency is denied. @default USD only */
  fx?: FxRates;
  /** Where key records live. @default in this process's memory ({@link createMemoryKeyStore}) */
  keyStore?: KeyStore;
  /** The spend ledger. @default in memory (one process) */
  ledger?: Ledger;
  /** The audit sink. @default in memory */
  audit?: AuditSink;
  /** Prefix of issued keys: `kb_test_` or `kb_live_`. @default 'test' */
  mode?: KeyMode;
  /**
   * How long a reservation may stay open before it counts as spent (its caller is taken to have
   * crashed). It must outlast the longest call — `2 × upstreamTimeout + 1s` (connecting, then the
   * answer) — or a retry under the same `Idempotency-Key` could be sent while its original is still
   * at the vendor: a shorter one throws. The bound counts no wait for a free connection: with more
   * calls in flight to one vendor than the dispatcher has connections (128 by default), raise it.
   * @default '10m', or that minimum if it is longer
   */
  reservationTtl?: string | number;
  /**
   * How long a vendor has for its whole answer, headers and body, counted from the request's start
   * (connecting may add up to 10 s): the vault reads an answer whole, streamed ones included, to
   * price the call. Set it above the longest answer you expect (an LLM generation streamed for
   * minutes, say). A timed-out call's cost stays counted. @default '60s'
   */
  upstreamTimeout?: string | number;
  /** Largest request body accepted, bytes. @default 1_048_576 */
  maxBodyBytes?: number;
  /**
   * The undici dispatcher used to reach vendors; bound its connect timeout by `upstreamTimeout`, as
   * the default does, so a call never outlasts its reservation.
   * @default a keep-alive `Agent` owned by the vault
   */
  dispatcher?: Dispatcher;
  /** Clock, epoch ms (tests). @default Date.now */
  now?: () => number;
}

/** A vault: issues vault keys and runs capped vendor calls with the real secrets it holds. */
export interface Vault {
  /**
   * Issues a vault key with a policy; a child key's policy must narrow its parent's. `parentId` may
   * be the parent's vault key instead of its id, as for `revokeKey`.
   */
  issueKey(options: IssueKeyOptions): Promise<IssuedKey>;
  /**
   * Revokes a key and all its descendants, effective on their next call. Returns every id revoked.
   * The key is named by its id, or by the vault key itself (a leaked one, say): only its id is
   * used, and an error never echoes the vault key. Throws `InvalidKeyError` if no such key exists.
   */
  revokeKey(keyId: string): Promise<{ revoked: string[] }>;
  /**
   * Spend, reservations, remaining budget and lifetime of a key, once every call answered so far is
   * settled. The key is named by its id or by its vault key, as for `revokeKey`.
   */
  getKeyStatus(keyId: string): Promise<KeyStatus>;
  /**
   * Runs one vendor call: the engine behind the capped fetch and the proxy. Denials come back as
   * vendor-shaped responses. An allowed call answers as soon as the vendor has; settling it and
   * writing its audit record follow (until then its reservation holds the estimate), and this
   * vault's `getKeyStatus`, `queryAudit` and `close` wait for them.
   */
  handle(request: VaultRequest): Promise<VaultResponse>;
  /** A WHATWG `fetch` that sends every call through this vault; see {@link CappedFetchOptions}. */
  createFetch(options?: CappedFetchOptions): typeof fetch;
  /** Audit records, newest first, with per-key totals, once every call answered so far has its record. */
  queryAudit(query?: AuditQuery): Promise<AuditQueryResult>;
  /** Names of the vendors this vault fronts. */
  readonly vendors: readonly string[];
  /**
   * Reads the key store once, as every call does first: resolves if it answers, throws
   * `StorageError` if it cannot (Redis down), when every call would be denied. For health checks.
   */
  checkStorage(): Promise<void>;
  /**
   * Refuses new calls, waits for the calls in flight to be answered and for their bookkeeping,
   * flushes the audit sink, and closes the key store, ledger and audit sink it was given — each
   * once the last open vault of this process using it closes — and the connections it owns.
   * Calling it again returns the first call's promise.
   */
  close(): Promise<void>;
}

/** The ledger each key store object was given to a vault with, in this process. */
const ledgerOfKeyStore = new WeakMap<object, Ledger>();

/**
 * Refuses to count a key store's keys in a ledger other vaults on the same keys do not see: each
 * vault would then enforce every cap on its own (two replicas on one Redis key store with their
 * own memory ledgers spend a $50 key twice). A shared store needs a shared ledger, and one key
 * store object in this process, one ledger.
 */
function assertOneLedgerPerKeyStore(keyStore: KeyStore, ledger: Ledger): void {
  if (keyStore.shared === true && ledger.shared !== true) {
    throw new InvalidPolicyError({
      message:
        'The key store is shared with other processes (Redis, Keyv on a shared backend) but the ledger is not: each vault would enforce every cap on its own. Pass the shared ledger too (createRedisLedger, or createRedisStorage for all three); a wrapper around a shared ledger must say `shared: true`.',
    });
  }
  // Two store objects over one storage (two Keyv stores on one in-memory Map) are one store.
  const storage = keyStore.storage ?? keyStore;
  const first = ledgerOfKeyStore.get(storage);
  if (first === undefined) ledgerOfKeyStore.set(storage, ledger);
  // Two shared ledgers may be two connections to one count (two Redis ledgers on one prefix).
  else if (first !== ledger && !(first.shared === true && ledger.shared === true)) {
    throw new InvalidPolicyError({
      message:
        'This key store is already used by a vault with another ledger: each would enforce every cap on its own. Give every vault on one key store the same ledger.',
    });
  }
}

/** How many open vaults of this process use each key store, ledger and audit sink. */
const openedBy = new WeakMap<object, number>();

/** Notes that a vault using `store` closed; `true` if it was the last, and the store may close. */
function release(store: object): boolean {
  const count = (openedBy.get(store) ?? 1) - 1;
  if (count > 0) openedBy.set(store, count);
  else openedBy.delete(store);
  return count <= 0;
}

/**
 * Creates a vault holding real vendor secrets, a key store, a ledger and an audit sink.
 *
 * @param options - See {@link VaultOptions}; everything defaults to in-memory.
 * @returns The {@link Vault}.
 * @throws {InvalidPolicyError} if a secret, price, FX rate or upstream URL is malformed, or
 *   `reservationTtl` is shorter than the longest call.
 * @example
 * ```ts
 * const vault = createVault({ secrets: { stripe: process.env.STRIPE_SECRET_KEY } });
 * const key = await vault.issueKey({ vendor: 'stripe', capUsd: 50, expiresIn: '1h', label: 'billing/run-42' });
 * const stripe = new Stripe(key.vaultKey, { httpClient: Stripe.createFetchHttpClient(vault.createFetch()) });
 * ```
 */
export function createVault(options: VaultOptions = {}): Vault {
  const builtins = builtinVendors(options.prices);
  const definitions: Record<string, VendorDefinition> = { ...builtins, ...options.vendors };
  const vendors = new Map<string, ConfiguredVendor>();
  for (const [name, definition] of Object.entries(definitions)) {
    const rawSecret = options.secrets?.[name];
    const override = options.upstreams?.[name];
    let baseUrl: URL;
    try {
      baseUrl = new URL(override ?? definition.baseUrl);
    } catch {
      throw new InvalidPolicyError({ message: `Invalid upstream URL for ${name}: ${JSON.stringify(override)}.` });
    }
    vendors.set(name, {
      definition,
      secret: rawSecret === undefined ? undefined : definition.parseSecret(rawSecret),
      baseUrl,
      builtin: Object.hasOwn(builtins, name) && builtins[name] === definition,
    });
  }
  for (const name of Object.keys(options.prices ?? {})) {
    // A misspelt name would leave that vendor on its default prices, unnoticed.
    if (!BUILTIN_VENDOR_NAMES.has(name) && options.prices?.[name as keyof BuiltinVendorOptions] !== undefined) {
      throw new InvalidPolicyError({
        message: `Prices were given for unknown vendor "${name}" (built-in: ${[...BUILTIN_VENDOR_NAMES].join(', ')}).`,
      });
    }
  }
  for (const name of Object.keys(options.upstreams ?? {})) {
    // A misspelt name would leave that vendor on its real host, with the real secret.
    if (!vendors.has(name) && options.upstreams?.[name] !== undefined) {
      throw new InvalidPolicyError({
        message: `An upstream was given for unknown vendor "${name}" (known: ${[...vendors.keys()].join(', ')}); define it in \`vendors\`.`,
      });
    }
  }
  for (const name of Object.keys(options.secrets ?? {})) {
    if (!vendors.has(name) && options.secrets?.[name] !== undefined) {
      throw new InvalidPolicyError({
        message: `A secret was given for unknown vendor "${name}"; define it in \`vendors\`.`,
      });
    }
  }
  const ownsDispatcher = options.dispatcher === undefined;
  const upstreamTimeoutMs = parseDuration(options.upstreamTimeout ?? '60s');
  // The longest a call can take once reserved: connecting (bounded below), then the whole answer
  // (bounded by upstreamTimeout, checked each second).
  const longestCallMs = 2 * upstreamTimeoutMs + 1000;
  let reservationTtlMs = parseDuration(options.reservationTtl ?? '10m');
  if (options.reservationTtl === undefined) reservationTtlMs = Math.max(reservationTtlMs, longestCallMs);
  else if (reservationTtlMs < longestCallMs) {
    throw new InvalidPolicyError({
      message: `reservationTtl (${reservationTtlMs} ms) must outlast the longest call, 2 × upstreamTimeout + 1s = ${longestCallMs} ms: a reservation that expires while its call is still at the vendor lets a retry under the same Idempotency-Key be sent uncovered.`,
    });
  }
  const compiled = new Map<string, EndpointPattern[]>();
  const now = options.now ?? Date.now;
  const keyStore = options.keyStore ?? createMemoryKeyStore({ now });
  const ledger = options.ledger ?? createMemoryLedger();
  const fx = createFxTable(options.fx);
  // Last of the checks that can refuse the options: a refused vault claims no key store.
  assertOneLedgerPerKeyStore(keyStore, ledger);
  const context: VaultContext = {
    mode: options.mode ?? 'test',
    vendors,
    keyStore,
    ledger,
    ledgerChecksRevocations: keyStore.revocationsCheckedBy === ledger,
    audit: options.audit ?? createMemoryAuditSink(),
    fx,
    reservationTtlMs,
    upstreamTimeoutMs,
    maxBodyBytes: options.maxBodyBytes ?? 1_048_576,
    dispatcher:
      options.dispatcher ??
      new Agent({
        keepAliveTimeout: 10_000,
        connections: 128,
        headersTimeout: upstreamTimeoutMs,
        bodyTimeout: upstreamTimeoutMs,
        connectTimeout: Math.min(upstreamTimeoutMs, 10_000),
        // A vendor's answer is read whole: bound it.
        maxResponseSize: 32 * 1024 * 1024,
      }),
    now,
    closed: false,
    settling: new Set(),
    inFlight: 0,
    idleWaiters: [],
    patterns(record) {
      if (!record.allowedEndpoints) return undefined;
      let patterns = compiled.get(record.id);
      if (!patterns) {
        patterns = record.allowedEndpoints.map(parseEndpointPattern);
        if (compiled.size > 50_000) compiled.clear();
        compiled.set(record.id, patterns);
      }
      return patterns;
    },
  };

  const vault: Vault = {
    vendors: [...vendors.keys()],
    issueKey: (issue) => issueKey(context, issue),
    revokeKey: (keyId) => revokeKey(context, keyId),
    getKeyStatus: async (keyId) => {
      await settled(context);
      return getKeyStatus(context, keyId);
    },
    handle: (request) => handleVaultRequest(context, request),
    createFetch: (fetchOptions) => createCappedFetch(vault, fetchOptions),
    async checkStorage() {
      // An id no key has: the store answers "none", or fails as a call's key read would.
      await context.keyStore.get('kbk_0000000000000000');
    },
    queryAudit: async (query = {}) => {
      assertAuditQuery(query);
      await settled(context);
      return context.audit.query(query);
    },
    close() {
      // Once: a second close (a shutdown hook and a `finally`) waits for the first.
      closing ??= closeVault();
      return closing;
    },
  };
  for (const store of new Set<object>([context.audit, context.ledger, context.keyStore]))
    openedBy.set(store, (openedBy.get(store) ?? 0) + 1);
  let closing: Promise<void> | undefined;
  async function closeVault(): Promise<void> {
    context.closed = true;
    // Calls already past the closed check may be at the vendor: they are answered, settled and
    // audited before the stores under them close.
    if (context.inFlight > 0) await new Promise<void>((resolve) => context.idleWaiters.push(resolve));
    await settled(context);
    // Close everything even when the final flush fails (e.g. Redis is down), then report a failure:
    // a store's own closing one first (it says what is lost), else the flush's.
    const flushed = await Promise.allSettled([context.audit.flush()]);
    // A store shared by several vaults of this process closes with the last of them: another vault
    // still answering calls must not lose its audit records (or its key store) under it.
    const closes = [...new Set<{ close?(): Promise<void> }>([context.audit, context.ledger, context.keyStore])].map(
      (store) => (release(store) ? store.close?.() : undefined),
    );
    if (ownsDispatcher) closes.push(context.dispatcher.close());
    const failed = [...(await Promise.allSettled(closes)), ...flushed].find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }
  return vault;
}

/**
 * Refuses a query a sink would misread: a `limit` that is not a whole number from 1 (`-1` would
 * drop the oldest match), a `since`/`until` that is not a time (the filter would be ignored) or a
 * date that does not exist (`2026-02-30`: it would filter from another day).
 */
function assertAuditQuery(query: AuditQuery): void {
  if (query.limit !== undefined && !(Number.isSafeInteger(query.limit) && query.limit >= 1)) {
    throw new InvalidPolicyError({
      message: `Invalid audit query: limit must be a whole number from 1, got ${query.limit}.`,
    });
  }
  for (const [name, value] of [
    ['since', query.since],
    ['until', query.until],
  ] as const) {
    if (value === undefined) continue;
    if (parseAuditTime(value) === undefined) {
      throw new InvalidPolicyError({
        message: `Invalid audit query: ${name} must be epoch milliseconds or an ISO 8601 time, got ${JSON.stringify(value)}.`,
      });
    }
  }
}
