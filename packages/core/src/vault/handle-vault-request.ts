import { createHash, randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import zlib, { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { type Dispatcher, errors as undiciErrors } from 'undici';
import type { AuditActor, AuditRecord } from '../audit/audit-record.js';
import { toAuditText } from '../audit/to-audit-text.js';
import type {
  CostContext,
  CostEstimate,
  CostReconciliation,
  CostRequest,
  CostResponse,
  CostSettlement,
} from '../costs/cost-model.js';
import { CapExceededError } from '../errors/cap-exceeded-error.js';
import { EndpointNotAllowedError } from '../errors/endpoint-not-allowed-error.js';
import { InvalidKeyError } from '../errors/invalid-key-error.js';
import { InvalidRequestError } from '../errors/invalid-request-error.js';
import { KeyRevokedError } from '../errors/key-revoked-error.js';
import { isPolicyDenial, KeybrakeError } from '../errors/keybrake-error.js';
import { StorageError } from '../errors/storage-error.js';
import { UnknownCostError } from '../errors/unknown-cost-error.js';
import { UpstreamError } from '../errors/upstream-error.js';
import { recordDenial } from '../fetch/actor-context.js';
import type { KeyRecord } from '../keys/key-record.js';
import { redactVaultKeys } from '../keys/vault-key-format.js';
import type { ReserveRequest, ReserveResult } from '../ledger/ledger.js';
import { formatUsd, fromMicroUsd, type MicroUsd } from '../money/micro-usd.js';
import { matchesEndpoint } from '../paths/endpoint-matcher.js';
import { normalizePath } from '../paths/normalize-path.js';
import type { VendorDefinition, VendorErrorResponse } from '../vendors/vendor-definition.js';
import { declaredCharset, UNREADABLE_CHARSET } from './declared-charset.js';
import { assertChainUsable, loadKeyChain } from './load-key-chain.js';
import { parseFormBody } from './parse-form-body.js';
import { readVaultKey } from './read-vault-key.js';
import { toHeaders } from './to-headers.js';
import type { ConfiguredVendor, VaultContext } from './vault-context.js';
import type { ResponseHeaderRecord, VaultRequest, VaultResponse } from './vault-request.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'authorization',
  'accept-encoding',
  'x-keybrake-key',
  // undici refuses it (it would wait for a 100 Continue); the proxy has already read the body.
  'expect',
  // A vendor, or a framework in front of one, may honour these: the allow-list checked the method sent,
  // and the path sent.
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-rewrite-url',
  'max-forwards',
]);
/** The methods a vendor call may use; TRACE (which reflects the request, credentials included), CONNECT and the rest are refused. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Headers that carry the caller's credentials: a cost model never sees them. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'x-keybrake-key']);
/** Hop-by-hop and framing headers of the vendor's answer, which are not passed on (RFC 9110 §7.6.1). */
const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-connection',
]);
/** The most codings a `Content-Encoding` may list. */
const MAX_CODINGS = 4;
/** The most a vendor's answer may decompress to. */
const MAX_DECODED_BYTES = 64 * 1024 * 1024;
const encoder = new TextEncoder();
/** How long a call settled at its estimate waits for the vendor's real price. */
const PENDING_TTL_MS = 7 * 86_400_000;
const decoder = new TextDecoder();
/** Charsets a body is read in as sent: UTF-8, and ASCII, a subset of it. */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/** Decodes a request body for its cost model as the bytes are sent: a byte order mark is kept, not dropped. */
const requestDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** The vendor's answer, read whole. */
interface UpstreamAnswer {
  status: number;
  headers: ResponseHeaderRecord;
  body: Uint8Array;
}

interface CallState {
  auditId: string;
  started: number;
  /** When the caller got the vendor's answer (`performance.now()`), if it did. */
  answered?: number;
  record: AuditRecord;
  chain?: KeyRecord[];
  vendor?: ConfiguredVendor;
  /** The vault key, once its chain was read without revocations (left to the ledger's reservation). */
  revocationsUnread?: string;
  /** The name of the first request header fetch would refuse (see {@link readHeaders}), if any. */
  invalidHeader: string | undefined;
}

/**
 * The engine behind the capped fetch and the proxy: authenticate, check, estimate, reserve,
 * forward, settle, audit. Never throws for a denial: it answers in the vendor's error shape.
 * Throws only if the caller aborts.
 */
export async function handleVaultRequest(context: VaultContext, request: VaultRequest): Promise<VaultResponse> {
  const headers: Record<string, string> = {};
  const invalidHeader = readHeaders(request.headers, headers);
  // What `Connection` nominates is never forwarded, so nothing reads it either: an Idempotency-Key or
  // Stripe-Account the vendor never sees must not decide a replay or its scope. (Credentials stay:
  // they are read to authenticate, and never forwarded anyway.)
  const nominated = connectionTokens(headers.connection);
  if (nominated) for (const name of nominated) if (!CREDENTIAL_HEADERS.has(name)) delete headers[name];
  const method = request.method.toUpperCase();
  const queryStart = request.path.indexOf('?');
  const rawPath = queryStart === -1 ? request.path : request.path.slice(0, queryStart);
  const search = queryStart === -1 ? '' : request.path.slice(queryStart);
  const state: CallState = {
    auditId: randomUUID(),
    started: performance.now(),
    record: {
      id: '',
      time: isoTime(context.now()),
      labelChain: [],
      vendor: request.vendor,
      // Client-controlled text (a method refused with 405 can be any length): audited cut.
      method: toAuditText(method),
      // Client-controlled text: a vault key put in the path is never logged or audited.
      path: redactVaultKeys(rawPath).slice(0, 256),
      decision: 'denied',
      estimatedMicros: 0,
      actualMicros: 0,
      latencyMs: 0,
      // Client-controlled text too, redacted and cut: the raw Idempotency-Key is read from the
      // headers, not from here.
      idempotencyKey: redactOptional(headers['idempotency-key']),
      actor: request.actor && redactActor(request.actor),
    },
    invalidHeader,
  };
  state.record.id = state.auditId;
  context.inFlight += 1;
  try {
    return await allowOrDeny(context, request, headers, method, rawPath, search, state);
  } catch (error) {
    if (KeybrakeError.isInstance(error)) return deny(context, state, await revokedFirst(context, state, error));
    if (request.signal?.aborted) throw error;
    return deny(
      context,
      state,
      new StorageError({ message: 'Keybrake failed while checking this call; it was denied.', cause: error }),
    );
  } finally {
    // Answered or denied: its bookkeeping, if any, is tracked by now (see `settled`).
    context.inFlight -= 1;
    if (context.inFlight === 0 && context.idleWaiters.length > 0) {
      for (const resolve of context.idleWaiters.splice(0)) resolve();
    }
  }
}

async function allowOrDeny(
  context: VaultContext,
  request: VaultRequest,
  headers: Record<string, string>,
  method: string,
  rawPath: string,
  search: string,
  state: CallState,
): Promise<VaultResponse> {
  if (context.closed) {
    throw new StorageError({ message: 'Keybrake denied this call: the vault is closed.' });
  }
  const vaultKey = request.vaultKey ?? readVaultKey(headers);
  // With a ledger that refuses a revoked chain when it reserves, the chain's revocations are left
  // to it (with Redis: one round trip less per call); a cost model's vendor read checks them first.
  const chain = await loadKeyChain(context, vaultKey, context.ledgerChecksRevocations ? NO_REVOCATIONS : undefined);
  if (context.ledgerChecksRevocations) state.revocationsUnread = vaultKey;
  const key = chain[0] as KeyRecord;
  state.chain = chain;
  const record = state.record;
  record.keyId = key.id;
  record.rootKeyId = key.rootId;
  record.label = key.label;
  record.labelChain = chain.map((entry) => entry.label ?? entry.id);
  record.vendor = key.vendor ?? request.vendor;
  // Known from here on: denials below are audited under the key and rendered in its vendor's shape.
  const vendor = key.vendor ? context.vendors.get(key.vendor) : undefined;
  if (vendor) state.vendor = vendor;
  assertChainUsable(chain, context.now());
  if (!key.vendor) {
    throw new InvalidKeyError({
      message: `Keybrake denied this call: key ${key.id} is a budget-only session key; issue a member key with a vendor for calls.`,
    });
  }
  if (request.vendor && request.vendor !== key.vendor) {
    throw new InvalidKeyError({
      message: `Keybrake denied this call: this vault key is for ${key.vendor}, not ${request.vendor}.`,
    });
  }
  if (!vendor || vendor.secret === undefined) {
    throw new InvalidKeyError({
      message: `Keybrake denied this call: no ${key.vendor} credentials are configured in this vault.`,
    });
  }

  const normalized = normalizePath(rawPath);
  if (!normalized.ok) {
    throw new EndpointNotAllowedError({
      keyId: key.id,
      label: key.label,
      method,
      path: record.path,
      reason: normalized.reason,
    });
  }
  const path = normalized.path;
  // Cut as the raw path of a malformed call is: the vendor reads the whole path, the audit a bounded one.
  record.path = redactVaultKeys(path).slice(0, 256);
  if (search.includes('#')) {
    // A request target has no fragment (RFC 9112): one parser prices `?a=1#&a=2` as a=2, another
    // cuts it at the `#` and reads a=1. The capped fetch never sends one (`URL` drops it).
    throw new InvalidRequestError({
      status: 400,
      message:
        'Keybrake denied this call: its query string holds a "#", which a vendor may read as the start of a fragment. The call was not sent; percent-encode it as %23.',
    });
  }
  if (state.invalidHeader !== undefined) throw invalidHeaderError(state.invalidHeader);
  if (!METHODS.has(method)) {
    throw new InvalidRequestError({
      status: 405,
      message: `Keybrake denied this call: the method ${JSON.stringify(method.slice(0, 20))} is not one a vendor call uses (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS). The call was not sent.`,
    });
  }
  for (const entry of chain) {
    const patterns = context.patterns(entry);
    if (patterns && !patterns.some((pattern) => matchesEndpoint(pattern, method, path))) {
      throw new EndpointNotAllowedError({
        keyId: key.id,
        label: key.label,
        method,
        path: record.path,
        reason: entry === key ? 'not on the allow-list' : `not on the allow-list of parent ${entry.label ?? entry.id}`,
      });
    }
  }

  const refused = vendor.definition.refuse?.(method, path);
  if (refused !== undefined) {
    throw new EndpointNotAllowedError({ keyId: key.id, label: key.label, method, path: record.path, reason: refused });
  }

  if (request.bodyOverLimit) {
    const { limitBytes, declaredBytes } = request.bodyOverLimit;
    throw tooLarge(Number.isSafeInteger(declaredBytes) ? `${declaredBytes} bytes, over` : 'over', limitBytes);
  }
  const body = toBytes(request.body);
  if (body.byteLength > context.maxBodyBytes) throw tooLarge(`${body.byteLength} bytes, over`, context.maxBodyBytes);
  if (body.byteLength > 0 && (method === 'GET' || method === 'HEAD')) {
    // Priced as a free read, but a vendor may read a body's parameters on a GET as well: refused, as
    // `fetch` (and so the capped fetch) refuses to send one.
    throw new InvalidRequestError({
      status: 400,
      message: `Keybrake denied this call: a ${method} request with a body. The call was not sent; send its parameters in the query string.`,
    });
  }
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw new InvalidRequestError({
      status: 415,
      message: `Keybrake denied this call: its body is sent with Content-Encoding "${encoding.slice(0, 40)}", which Keybrake cannot read to price it. The call was not sent; send the body uncompressed.`,
    });
  }
  const charset = body.byteLength === 0 ? undefined : declaredCharset(headers['content-type']);
  if (charset !== undefined && !UTF8_CHARSETS.has(charset)) {
    // Priced as UTF-8, a body the vendor decodes otherwise says something else to it: Latin-1
    // `Ã©` is two characters there, one `é` here (an SMS of fewer, cheaper segments).
    const declared =
      charset === UNREADABLE_CHARSET
        ? 'in a charset Keybrake cannot tell for sure (a malformed Content-Type, or one that names two)'
        : `in charset ${JSON.stringify(charset.slice(0, 40))}`;
    throw new InvalidRequestError({
      status: 415,
      message: `Keybrake denied this call: its body is declared ${declared}, and Keybrake reads bodies as UTF-8 to price them. The call was not sent; send the body in UTF-8.`,
    });
  }
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
    // One parser drops a leading byte order mark, another reads it as part of the first parameter's
    // name (`\uFEFFTimeLimit`): priced one way, the vendor may read the call the other.
    throw new InvalidRequestError({
      status: 400,
      message:
        'Keybrake denied this call: its body starts with a byte order mark (EF BB BF), which a vendor may read as part of its first parameter. The call was not sent; send the body without it.',
    });
  }
  const bodyText = body.byteLength === 0 ? '' : requestDecoder.decode(body);
  const costRequest = new LazyCostRequest(method, path, search, headers, bodyText);
  const costContext = new VaultCostContext(
    context,
    vendor,
    request.signal,
    context.ledgerChecksRevocations ? vaultKey : undefined,
  );

  let estimate: CostEstimate;
  try {
    estimate = await vendor.definition.costModel.estimate(costRequest, costContext);
  } catch (error) {
    // An abort is the caller's (whatever the model made of it), as is a revoked key found before a
    // vendor read; a typed denial (an unknown currency) is the model's answer.
    request.signal?.throwIfAborted();
    await costContext.revocationsChecked();
    if (KeybrakeError.isInstance(error)) throw error;
    record.note = `the cost model failed (${errorName(error)})`;
    // The path as audited: a vault key a caller wrote into it is never echoed.
    throw costModelError(vendor, method, record.path, 'failed');
  }
  // A lookup aborted by the caller reads as `unknown` to the model: the abort, not a denial; so
  // does one refused for a revoked key, which the model may have caught.
  request.signal?.throwIfAborted();
  const revocationsChecked = costContext.revocationsChecked();
  if (revocationsChecked !== undefined) await revocationsChecked;
  const estimatedMicros = resolveEstimate(estimate, chain, method, record.path, vendor, record);
  record.estimatedMicros = estimatedMicros;
  if (estimate.kind === 'known' && estimate.note) record.note = estimate.note;
  // An estimate that read the vendor may have taken up to upstreamTimeout: a key that expired
  // meanwhile is caught at the time of the reservation (a revocation, after it, below).
  const reservedAt = context.now();
  assertChainUsable(chain, reservedAt);
  for (const entry of chain) {
    if (entry.perCallMaxMicros !== undefined && estimatedMicros > entry.perCallMaxMicros) {
      throw capError(key, entry, 'per_call', entry.perCallMaxMicros, 0, 0, estimatedMicros);
    }
  }

  const reserveRequest: ReserveRequest = {
    reservationId: state.auditId,
    chain: chain.map((entry) => ({
      keyId: entry.id,
      capMicros: entry.capMicros,
      dailyCapMicros: entry.dailyCapMicros,
      maxCalls: entry.maxCalls,
      expiresAt: entry.expiresAt,
    })),
    micros: estimatedMicros,
    now: reservedAt,
    ttlMs: context.reservationTtlMs,
    idempotencyKey:
      method === 'POST' &&
      headers['idempotency-key'] !== undefined &&
      honorsIdempotency(vendor.definition, method, path)
        ? idempotencyDigest(
            headers['idempotency-key'],
            // The vendor as this vault configured it (its own secret: its own account), not its
            // definition's name: two Stripe accounts share one, not their idempotency keys.
            `${key.vendor}\u0000${scopeOf(vendor.definition, headers)}`,
            method,
            path,
            search,
            body,
          )
        : undefined,
  };
  let reservation: ReserveResult;
  try {
    reservation = await context.ledger.reserve(reserveRequest);
  } catch (error) {
    // The ledger may still have made it (a Redis command that timed out on the client): release
    // it, best effort and unawaited; the call is not sent.
    context.ledger
      .settle({ reservationId: state.auditId, micros: 0, now: context.now(), notSent: true })
      .catch(() => {});
    throw error;
  }
  if (!reservation.ok) {
    // A ledger that read a revocation in its reservation: the chain read again says whose and when.
    if (reservation.cap === 'revoked') {
      assertChainUsable(await loadKeyChain(context, vaultKey), context.now());
      throw new KeyRevokedError({ keyId: key.id, label: key.label, revokedKeyId: reservation.keyId });
    }
    const limiting = chain.find((entry) => entry.id === reservation.keyId) ?? key;
    throw capError(
      key,
      limiting,
      reservation.cap,
      reservation.limit,
      reservation.spent,
      reservation.reserved,
      estimatedMicros,
    );
  }
  // The reservation read the chain's revocations: a later denial, or the error of a call that was
  // sent, is not re-read as a revocation (it would tell the caller "not sent" of a call that was).
  state.revocationsUnread = undefined;
  // Revoked while the call was checked, estimated or reserved (a Redis round trip): read again
  // after the reservation, the last wait before the call is sent, so that once `revokeKey()` has
  // resolved no call on the key, or under it, reaches the vendor. Released, as nothing was sent.
  try {
    if (!context.ledgerChecksRevocations) {
      assertChainUsable(await loadKeyChain(context, vaultKey), context.now());
    }
  } catch (error) {
    if (reservation.replayOf === undefined) {
      await context.ledger
        .settle({ reservationId: state.auditId, micros: 0, now: context.now(), notSent: true })
        .catch(() => {});
    }
    throw error;
  }
  if (reservation.originalOpen) {
    throw new InvalidRequestError({
      status: 409,
      retryable: true,
      message: `Keybrake held this call back: another call with the same Idempotency-Key is still in flight. Retry once it has finished; the retry will then replay its result, not charge twice.`,
    });
  }
  const replayed = reservation.replayOf !== undefined;

  // Allowed: forward with the real credentials.
  const forwardHeaders: Record<string, string> = {};
  // Keybrake's own headers (the vault key, the actor) are for Keybrake, never for the vendor. Names
  // with `_` are dropped, as nginx does: a server that maps headers to CGI-style variables reads
  // `Stripe_Account` as `Stripe-Account`, which Keybrake did not read.
  for (const name in headers)
    if (!HOP_BY_HOP.has(name) && !name.startsWith('x-keybrake-') && !name.includes('_'))
      forwardHeaders[name] = headers[name] as string;
  forwardHeaders['accept-encoding'] = 'identity';
  let authorized: ReturnType<typeof vendor.definition.authorize>;
  try {
    authorized = vendor.definition.authorize({ path, headers: forwardHeaders }, vendor.secret);
  } catch (error) {
    // A custom vendor's signing step that failed: the call is never sent, so nothing stays counted.
    if (!replayed) {
      await context.ledger
        .settle({ reservationId: state.auditId, micros: 0, now: context.now(), notSent: true })
        .catch(() => {});
    }
    throw error;
  }
  record.decision = 'allowed';
  let upstream: UpstreamAnswer;
  // Aborted while it was checked or reserved: it is never sent, so nothing is counted.
  let sending = false;
  try {
    request.signal?.throwIfAborted();
    sending = true;
    upstream = await forward(
      context,
      vendor,
      method,
      `${authorized.path}${search}`,
      forwardHeaders,
      body,
      request.signal,
    );
    // A vendor, or a gateway in front of it, that quotes the credential it received (an error page
    // "Invalid Authorization header: Bearer sk_live_…") must not hand it to the caller, the cost
    // model or the audit trail.
    redactEchoedCredential(upstream, sentCredentials(vendor, forwardHeaders, headers, authorized.path));
  } catch (error) {
    // A request that may have reached the vendor keeps its reservation as spent (never undercount).
    const outcomeUnknown = sending && !isConnectError(error);
    const timedOut = isTimeout(error);
    const what = timedOut
      ? `did not answer within upstreamTimeout (${context.upstreamTimeoutMs} ms, for the whole answer)`
      : error instanceof undiciErrors.ResponseExceededMaxSizeError
        ? 'answered with more than the 32 MiB Keybrake reads to price a call'
        : error instanceof UndecodableAnswerError || error instanceof OversizedAnswerError
          ? error.message
          : 'did not answer';
    // The estimate's note ("PaymentIntent created and confirmed") is not what happened; a failed
    // settlement, below, says more.
    if (outcomeUnknown && !replayed) {
      record.note = request.signal?.aborted
        ? 'outcome unknown: the caller gave up the call after it was sent; the estimate stays counted'
        : `outcome unknown: the ${vendor.definition.name} API ${what}; the estimate stays counted`;
    }
    let counted = outcomeUnknown && !replayed ? estimatedMicros : 0;
    if (!replayed) {
      try {
        await context.ledger.settle({
          reservationId: state.auditId,
          micros: outcomeUnknown ? estimatedMicros : 0,
          now: context.now(),
          // Counted at the estimate: kept, so that a replay of the call can say what it cost.
          outcomeUnknown,
          // Never reached the vendor (aborted first, or no connection): not a call against maxCalls either.
          notSent: !outcomeUnknown,
          onLateSettle: outcomeUnknown ? undefined : auditLateSettlement(context, record, 0, record.note),
        });
      } catch (settleError) {
        // The reservation stays open and expires into spend at the estimate: counted, not lost.
        // The caller still learns what happened to the call, not that the ledger failed.
        counted = estimatedMicros;
        record.note = settlementFailed(settleError);
      }
    }
    record.outcome = outcomeUnknown ? 'unknown' : 'settled';
    record.actualMicros = counted;
    if (request.signal?.aborted) {
      finish(context, state);
      throw error;
    }
    throw new UpstreamError({
      status: timedOut ? 504 : 502,
      outcomeUnknown,
      message: outcomeUnknown
        ? `The ${vendor.definition.name} API ${what}; the outcome of this call is unknown, so its estimated cost stays counted.`
        : `The ${vendor.definition.name} API could not be reached; nothing was sent and nothing was counted.`,
      cause: error,
    });
  }

  const costResponse = new UpstreamCostResponse(upstream);
  let actualMicros: MicroUsd = 0;
  let pendingRef: string | undefined;
  // Counted at its estimate because its outcome or cost is not known: kept re-settleable, as a
  // call awaiting a late price is, so that a replay of it can say what it cost.
  let unsure = false;
  if (!replayed) {
    let settlement: CostSettlement;
    try {
      settlement = wellFormed(vendor.definition.costModel.settle(costRequest, costResponse, estimate, costContext));
    } catch (error) {
      // The vendor has answered, so the caller still gets its answer (a denial now could make it
      // retry a charge that went through); the cost is the estimate.
      settlement = { kind: 'unknown', reason: 'cost model failed' };
      record.note = `cost not read (${error instanceof Error ? error.message : 'cost model error'}); the estimate stays counted`;
    }
    // A successful money call whose cost cannot be read keeps its estimate: never undercount.
    // A settlement that is only the least the call costs never lowers the estimate (a fallback).
    actualMicros =
      settlement.kind !== 'known'
        ? estimatedMicros
        : settlement.atLeast
          ? Math.max(settlement.micros, estimatedMicros)
          : settlement.micros;
    if (settlement.kind === 'known' && settlement.note) record.note = settlement.note;
    if (settlement.kind === 'known' && settlement.pendingRef)
      pendingRef = `${vendor.definition.name}:${settlement.pendingRef}`;
    unsure = settlement.kind !== 'known' || upstream.status >= 500;
  } else if (context.ledger.repriceUnknown) {
    // The original may have been counted at its estimate, its outcome unknown; this answer (the
    // vendor's replay of it, or the call run afresh) says what it cost. The ledger raises it, once,
    // if it was settled that way and this is more; the difference is this call's to report.
    const micros = priceReplay(vendor, costRequest, upstream, estimate, costContext);
    if (micros !== undefined) {
      const original = reservation.replayOf as string;
      actualMicros = await context.ledger
        .repriceUnknown({ reservationId: original, micros, now: context.now() })
        .catch((error: unknown) => {
          // The original stays counted as it was; the audit trail says what could not be done.
          record.note = `replay of call ${original}: re-pricing it at ${formatUsd(micros)} failed (${errorName(error)}); it stays counted as it was`;
          return 0;
        });
      if (actualMicros > 0) {
        record.note = `replay of call ${original}, whose outcome was unknown and counted at its estimate: this answer prices it at ${formatUsd(micros)}; the ${formatUsd(actualMicros)} more is counted here`;
      }
    }
  }
  // The vendor has answered, and the caller gets its answer now. The bookkeeping (settle, late
  // prices, audit) follows off the response path; until it lands the reservation holds the
  // estimate, so every cap stays conservative, and the vault's own reads (key status, audit
  // queries, close) wait for it. An answer that reports earlier calls' real prices first waits
  // for their bookkeeping, which stores what awaits a price.
  state.answered = performance.now();
  const late = latePrices(vendor, costRequest, costResponse, costContext, record);
  if (late.length > 0) await settled(context);
  track(
    context,
    settleAndAudit(context, state, {
      vendor,
      upstream,
      replayOf: reservation.replayOf,
      estimatedMicros,
      actualMicros,
      pendingRef,
      unsure,
      late,
    }),
  );
  return new LazyVaultResponse(upstream.status, upstream.headers, upstream.body, {
    auditId: state.auditId,
    keyId: key.id,
    vendor: key.vendor,
    decision: 'allowed',
    estimatedMicros,
    actualMicros,
  });
}

/** What {@link settleAndAudit} needs of an answered call. */
interface AnsweredCall {
  vendor: ConfiguredVendor;
  upstream: UpstreamAnswer;
  /** For a replay: the original call's reservation. */
  replayOf: string | undefined;
  estimatedMicros: MicroUsd;
  actualMicros: MicroUsd;
  pendingRef: string | undefined;
  /** Counted at its estimate for want of a known outcome or cost: kept re-priceable. */
  unsure: boolean;
  /** Real prices the answer reports for earlier calls. */
  late: readonly CostReconciliation[];
}

/**
 * Settles an answered call, reconciles late prices its response reports, writes its audit record
 * and stores it for a late price. Never rejects: if settling fails, the reservation stays open
 * and expires into spend at its estimate (never undercounted), and the record says so.
 */
async function settleAndAudit(context: VaultContext, state: CallState, call: AnsweredCall): Promise<void> {
  const { vendor, upstream, replayOf, estimatedMicros } = call;
  const replayed = replayOf !== undefined;
  const record = state.record;
  let { actualMicros, pendingRef } = call;
  if (!replayed) {
    try {
      await context.ledger.settle({
        reservationId: state.auditId,
        micros: actualMicros,
        now: context.now(),
        awaitsLatePrice: pendingRef !== undefined,
        outcomeUnknown: call.unsure && pendingRef === undefined,
        onLateSettle: auditLateSettlement(context, record, actualMicros, record.note),
      });
    } catch (error) {
      actualMicros = estimatedMicros;
      pendingRef = undefined;
      record.note = settlementFailed(error);
    }
  }
  if (call.late.length > 0) {
    // This call's own settlement stands; only the earlier calls' prices could not be applied.
    await applyLatePrices(context, vendor, call.late).catch((error: unknown) => {
      record.note = `${record.note ? `${record.note}; ` : ''}late prices of earlier calls not applied (${error instanceof Error ? error.message : 'storage error'})`;
    });
  }
  // A vendor error (5xx) on a call its model kept counted: the call may or may not have run.
  record.outcome = replayed ? 'replayed' : upstream.status >= 500 && actualMicros > 0 ? 'unknown' : 'settled';
  record.actualMicros = actualMicros;
  record.vendorStatus = upstream.status;
  // Kept only if it looks like an id: the audit trail is no place for whatever else a gateway put there.
  const requestId = vendor.definition.requestIdHeader
    ? headerValue(upstream.headers, vendor.definition.requestIdHeader.toLowerCase())
    : undefined;
  record.vendorRequestId = requestId !== undefined && REQUEST_ID.test(requestId) ? requestId : undefined;
  finish(context, state);
  if (pendingRef) await context.keyStore.putPending(pendingRef, record, PENDING_TTL_MS).catch(() => {});
}

function settlementFailed(error: unknown): string {
  return `settlement failed (${error instanceof Error ? error.message : 'storage error'}); the estimate stays counted`;
}

/**
 * What the vault does when a settlement that failed (a storage command that timed out while Redis
 * was hung) takes effect after all: the ledger then holds `micros`, not the estimate the call's
 * audit record gave, so the record is written again (`revision` + 1) with that amount.
 */
function auditLateSettlement(
  context: VaultContext,
  record: AuditRecord,
  micros: MicroUsd,
  modelNote: string | undefined,
): () => void {
  return () =>
    context.audit.write({
      ...record,
      revision: (record.revision ?? 0) + 1,
      actualMicros: micros,
      note: `${modelNote ? `${modelNote}; ` : ''}settled late: the settlement timed out, then reached the ledger`,
    });
}

/** Keeps a call's bookkeeping in the vault's set of unfinished ones until it is done. */
function track(context: VaultContext, bookkeeping: Promise<void>): void {
  context.settling.add(bookkeeping);
  const done = () => context.settling.delete(bookkeeping);
  bookkeeping.then(done, done);
}

/**
 * Resolves once the bookkeeping of every call answered so far has landed (not of calls answered
 * meanwhile, so it ends under any load): what the vault's reads (key status, audit queries) and
 * `close` wait for, so a caller always sees its own calls.
 */
export async function settled(context: VaultContext): Promise<void> {
  if (context.settling.size > 0) await Promise.allSettled([...context.settling]);
}

/** A {@link VaultResponse} whose WHATWG `Headers` are built only if someone reads them. */
class LazyVaultResponse implements VaultResponse {
  #headers: Headers | undefined;
  constructor(
    readonly status: number,
    readonly headerRecord: ResponseHeaderRecord,
    readonly body: Uint8Array,
    readonly keybrake: VaultResponse['keybrake'],
  ) {}
  get headers(): Headers {
    this.#headers ??= toHeaders(this.headerRecord);
    return this.#headers;
  }
}

/** The vendor's answer as a cost model reads it: JSON parsed and `Headers` built only on first read. */
class UpstreamCostResponse implements CostResponse {
  #json: { value: unknown } | undefined;
  #headers: Headers | undefined;
  readonly status: number;
  /**
   * @param upstream - The vendor's answer.
   * @param unmarked - The vendor's replay header (its `replayHeader`), read as absent: to price a
   *   replay as the call it replays.
   */
  constructor(
    private readonly upstream: UpstreamAnswer,
    private readonly unmarked?: string,
  ) {
    this.status = upstream.status;
  }
  get headers(): Headers {
    if (!this.#headers) {
      this.#headers = toHeaders(this.upstream.headers);
      if (this.unmarked) this.#headers.delete(this.unmarked);
    }
    return this.#headers;
  }
  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    return lower === this.unmarked ? undefined : headerValue(this.upstream.headers, lower);
  }
  // Parsed only if the cost model reads it (reads of free endpoints never do).
  get json(): unknown {
    this.#json ??= { value: parseJson(this.upstream.body, this.upstream.headers) };
    return this.#json.value;
  }
}

/** A compressed answer that decodes past {@link MAX_DECODED_BYTES}: its coding was read, but it is too big to price. */
class OversizedAnswerError extends Error {
  constructor() {
    super(`answered with more than the ${MAX_DECODED_BYTES / 1024 / 1024} MiB Keybrake decodes to price a call`);
    this.name = 'OversizedAnswerError';
  }
}

/** A vendor's answer in a `Content-Encoding` Keybrake cannot undo: neither priced nor passed on. */
class UndecodableAnswerError extends Error {
  constructor(encoding: string) {
    // Named only if it is a short list of registered codings: a header's value is the vendor's (or
    // a gateway's) to fill, and the message reaches the caller and the audit trail.
    const codings = encoding.split(',');
    const named = codings.length <= 4 && codings.every((coding) => CODINGS.has(coding.trim().toLowerCase()));
    super(
      `answered with a body in an encoding Keybrake cannot read (Content-Encoding: ${named ? encoding.trim() : 'not a registered coding'})`,
    );
    this.name = 'UndecodableAnswerError';
  }
}

/** HTTP's registered content codings (IANA), the names an undecodable answer may be reported by. */
const CODINGS = new Set([
  'aes128gcm',
  'br',
  'compress',
  'dcb',
  'dcz',
  'deflate',
  'exi',
  'gzip',
  'identity',
  'pack200-gzip',
  'x-compress',
  'x-gzip',
  'zstd',
]);

/**
 * What the answer to a replayed call says the original call cost, read as if it were not a replay;
 * `undefined` if it cannot be read or says nothing was spent. The ledger only ever raises what the
 * original was counted at: a conflict or error answer says nothing certain of the original.
 */
function priceReplay(
  vendor: ConfiguredVendor,
  costRequest: CostRequest,
  upstream: UpstreamAnswer,
  estimate: CostEstimate,
  costContext: CostContext,
): MicroUsd | undefined {
  let settlement: CostSettlement;
  try {
    const response = new UpstreamCostResponse(upstream, vendor.definition.replayHeader?.toLowerCase());
    settlement = wellFormed(vendor.definition.costModel.settle(costRequest, response, estimate, costContext));
  } catch {
    return undefined;
  }
  return settlement.kind === 'known' && settlement.micros > 0 ? settlement.micros : undefined;
}

/** The request as a cost model reads it: form, JSON, query and `Headers` built only on first read. */
class LazyCostRequest implements CostRequest {
  #form: Record<string, string> | undefined;
  #json: { value: unknown } | undefined;
  #headers: Headers | undefined;
  #query: URLSearchParams | undefined;
  // Private fields, not own properties: a cost model that logs or serialises its arguments sees
  // neither the raw header record nor, in it, the caller's vault key.
  readonly #search: string;
  readonly #headerRecord: Record<string, string>;
  constructor(
    readonly method: string,
    readonly path: string,
    search: string,
    headerRecord: Record<string, string>,
    readonly bodyText: string,
  ) {
    this.#search = search;
    this.#headerRecord = headerRecord;
  }
  get query(): URLSearchParams {
    this.#query ??= new URLSearchParams(this.#search);
    return this.#query;
  }
  get search(): string {
    return this.#search;
  }
  header(name: string): string | undefined {
    return CREDENTIAL_HEADERS.has(name) ? undefined : this.#headerRecord[name];
  }
  /** The request's headers, without the credentials it carried (the vault key). */
  get headers(): Headers {
    if (!this.#headers) {
      const headers = new Headers();
      for (const name in this.#headerRecord) {
        if (!CREDENTIAL_HEADERS.has(name)) headers.append(name, this.#headerRecord[name] as string);
      }
      this.#headers = headers;
    }
    return this.#headers;
  }
  form(): Record<string, string> {
    this.#form ??= parseFormBody(this.bodyText);
    return this.#form;
  }
  json(): unknown {
    if (!this.#json) {
      try {
        this.#json = { value: this.bodyText ? JSON.parse(this.bodyText) : undefined };
      } catch {
        this.#json = { value: undefined };
      }
    }
    return this.#json.value;
  }
}

/** The last time formatted by {@link isoTime}, and its text. */
let lastTime = Number.NaN;
let lastIso = '';

/** `new Date(ms).toISOString()`, reused while the clock reads the same millisecond (calls under load do). */
function isoTime(ms: number): string {
  if (ms !== lastTime) {
    lastIso = new Date(ms).toISOString();
    lastTime = ms;
  }
  return lastIso;
}

/** Client-controlled text as audited (see {@link toAuditText}), if any. */
function redactOptional(text: string | undefined): string | undefined {
  return text === undefined ? undefined : toAuditText(text);
}

/** The caller's actor, as audited: a vault key in any of its fields is redacted, each cut to 200 characters. */
function redactActor(actor: AuditActor): AuditActor {
  return {
    member: redactOptional(actor.member),
    tool: redactOptional(actor.tool),
    toolCallId: redactOptional(actor.toolCallId),
  };
}

/** What a vendor's request id looks like (`req_…`, `RQ…`, a UUID, base64). */
const REQUEST_ID = /^[\w.:+/=-]{1,200}$/;

/** Replaces an echoed credential. */
const REDACTED = '[redacted by keybrake]';
/** The forms of each list of credentials sent, computed once per list (a few per vendor). */
const credentialForms = new Map<string, CredentialForms>();
/** Names of headers `authorize` may set that identify or describe rather than prove (`X-Auth-Email`, `Anthropic-Version`, `Accept`). */
const NOT_A_CREDENTIAL =
  /(?:^|-)(?:email|user|username|id|sid|account|version)$|^(?:accept|accept-encoding|accept-language|content-type|user-agent)$/i;
/** Object fields of a vendor's secret that identify an account rather than prove it (Twilio's `accountSid`). */
const IDENTIFIER_FIELD = /(?:sid|id|email|user|username)$/i;
/** The strings of each vendor's configured secret that may be a credential. */
const secretStrings = new WeakMap<ConfiguredVendor, string[]>();

/**
 * The credentials the vendor's `authorize` put on the wire: every header it set or changed (but
 * identifiers such as `X-Auth-Email`), and each string of the vendor's configured secret that it
 * put into the path or a header (`/bot<token>/…`, `Cookie: session=<secret>`).
 */
function sentCredentials(
  vendor: ConfiguredVendor,
  sent: Record<string, string>,
  received: Record<string, string>,
  path: string,
): string[] {
  const values: string[] = [];
  /** Every header value it set or changed, and whether its name says it is a credential. */
  const changed: Array<[value: string, credential: boolean]> = [];
  for (const name in sent)
    if (sent[name] !== received[name]) {
      const credential = !NOT_A_CREDENTIAL.test(name);
      changed.push([sent[name] as string, credential]);
      if (credential) values.push(sent[name] as string);
    }
  let strings = secretStrings.get(vendor);
  if (strings === undefined) {
    const secret = vendor.secret;
    strings =
      typeof secret === 'string'
        ? [secret]
        : typeof secret === 'object' && secret !== null
          ? Object.entries(secret).flatMap(([name, value]) =>
              typeof value === 'string' && !IDENTIFIER_FIELD.test(name) ? [value] : [],
            )
          : [];
    strings = strings.filter((value) => value.length >= 8);
    secretStrings.set(vendor, strings);
  }
  // A secret sent as a credential header's whole token (`Bearer <secret>`) is already covered by
  // that header's forms; anywhere else (a cookie, an identifier-named header, the path, or as a
  // Basic header's user name beside no other secret: `-u sk_live_…:`) it is added.
  for (const value of strings)
    if (
      path.includes(value) ||
      changed.some(
        ([sentValue, credential]) =>
          (sentValue.includes(value) || sentAsBasicUserName(sentValue, value, strings)) &&
          !(credential && tokenOf(sentValue) === value),
      )
    )
      values.push(value);
  return values;
}

/**
 * Whether a Basic header value (`Basic base64(user:password)`) sends `secret` as its user name as
 * the credential: beside an empty, dummy or fixed public password (`-u sk_live_…:`, `-u <key>:X`,
 * `-u <token>:x-oauth-basic`), not beside another configured secret (`apiKey:apiSecret`, where the
 * user name is a public identifier).
 */
function sentAsBasicUserName(value: string, secret: string, secrets: readonly string[]): boolean {
  if (value.length < 6 || value.slice(0, 6).toLowerCase() !== 'basic ') return false;
  const decoded = Buffer.from(tokenOf(value), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1 || decoded.slice(0, colon) !== secret) return false;
  return !secrets.includes(decoded.slice(colon + 1));
}

/**
 * The forms in which a credential header value could come back: its token (`sk_live_…`, or the
 * base64 of `user:password`; the whole value if it has no scheme) and for Basic the password —
 * never the user name (an account SID) — each without base64 padding (which covers `=`, `%3D` and
 * `\u003d` after it), and as JSON (`\/`) or a URL (`%2F`, `%2f`) would escape it. Forms under 8
 * characters are left alone (too common to be a secret).
 */
function formsOf(value: string): string[] {
  const space = value.indexOf(' ');
  const token = tokenOf(value);
  const found = [token.replace(/=+$/, '')];
  if (space !== -1 && value.slice(0, space).toLowerCase() === 'basic') {
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon !== -1) found.push(decoded.slice(colon + 1));
  }
  return found.flatMap((form) => {
    const encoded = encodeURIComponent(form);
    return [form, form.replaceAll('/', '\\/'), encoded, encoded.replace(/%[0-9A-F]{2}/g, (code) => code.toLowerCase())];
  });
}

/** A header value's token: what follows its scheme (`Bearer <token>`), or the whole value. */
function tokenOf(value: string): string {
  const space = value.indexOf(' ');
  return space === -1 ? value : value.slice(space + 1).trim();
}

/** The forms of a call's credentials, as strings and as bytes (the body is searched as bytes). */
interface CredentialForms {
  strings: string[];
  bytes: Buffer[];
}

/** The forms of a list of credentials, computed once per list (the same few each call). */
function formsFor(credentials: readonly string[]): CredentialForms {
  const key = credentials.length === 1 ? (credentials[0] as string) : credentials.join('\u0000');
  let forms = credentialForms.get(key);
  if (forms !== undefined) return forms;
  const strings = [...new Set(credentials.flatMap(formsOf))].filter((form) => form.length >= 8);
  forms = { strings, bytes: strings.map((form) => Buffer.from(form)) };
  // Signed per-call credentials would make it grow: it is a cache, not a record.
  if (credentialForms.size >= 256) credentialForms.clear();
  credentialForms.set(key, forms);
  return forms;
}

/**
 * Redacts every form of the vendor's credential from its answer, body and headers, in place. A
 * body left in an encoding Keybrake cannot decode cannot be edited safely: if it holds one, it is
 * dropped.
 */
function redactEchoedCredential(upstream: UpstreamAnswer, credentials: readonly string[]): void {
  if (credentials.length === 0) return;
  const { strings, bytes } = formsFor(credentials);
  if (strings.length === 0) return;
  const headers = upstream.headers;
  const body = Buffer.from(upstream.body.buffer, upstream.body.byteOffset, upstream.body.byteLength);
  if (bytes.some((form) => body.includes(form))) {
    let text = body.toString('latin1');
    for (const form of bytes) text = text.replaceAll(form.toString('latin1'), REDACTED);
    upstream.body = Buffer.from(text, 'latin1');
  } else if (holdsCompressed(body, bytes)) {
    // Compressed more times than its Content-Encoding said: the secret is in there, unreadable to
    // the search above but not to a caller who undoes the rest. It cannot be edited: dropped.
    upstream.body = new Uint8Array();
  }
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') {
      if (strings.some((form) => value.includes(form)))
        headers[name] = strings.reduce((text, form) => text.replaceAll(form, REDACTED), value);
    } else if (value.some((entry) => strings.some((form) => entry.includes(form)))) {
      headers[name] = value.map((entry) => strings.reduce((text, form) => text.replaceAll(form, REDACTED), entry));
    }
  }
}

/**
 * Whether `body` is itself gzip, zlib or zstd data (by its magic bytes) that decompresses, within a
 * few layers, to bytes holding one of `forms`. Costs a byte comparison for any other body.
 */
function holdsCompressed(body: Buffer, forms: readonly Buffer[], depth = 0): boolean {
  if (depth >= MAX_CODINGS || body.byteLength < 4) return false;
  const encoding =
    body[0] === 0x1f && body[1] === 0x8b
      ? 'gzip'
      : body[0] === 0x78 && ((body[0] << 8) | (body[1] as number)) % 31 === 0
        ? 'deflate'
        : body.readUInt32LE(0) === 0xfd2fb528
          ? 'zstd'
          : undefined;
  if (encoding === undefined) return false;
  const inner = decodeOne(encoding, body);
  if (!inner) return false;
  const bytes = Buffer.from(inner.buffer, inner.byteOffset, inner.byteLength);
  return forms.some((form) => bytes.includes(form)) || holdsCompressed(bytes, forms, depth + 1);
}

function headerValue(headers: ResponseHeaderRecord, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * A cost model's settlement, checked: anything but `{ kind: 'known', micros: <safe integer> }` or
 * `{ kind: 'unknown' }` throws, and the caller keeps the estimate (the vendor has answered).
 */
function wellFormed(settlement: CostSettlement): CostSettlement {
  if (typeof settlement === 'object' && settlement !== null) {
    if (settlement.kind === 'unknown') return settlement;
    if (settlement.kind === 'known' && Number.isSafeInteger(settlement.micros)) return settlement;
  }
  throw new TypeError('the cost model returned a malformed settlement');
}

/**
 * The real prices a successful answer reports for earlier calls settled at their estimate (a GET
 * of a Twilio message, or a list page of them). A cost model that throws here reconciles nothing:
 * the answer still reaches the caller, and the record says why.
 */
function latePrices(
  vendor: ConfiguredVendor,
  request: CostRequest,
  response: CostResponse,
  costContext: CostContext,
  record: AuditRecord,
): readonly CostReconciliation[] {
  const model = vendor.definition.costModel;
  if ((!model.reconcileAll && !model.reconcile) || response.status < 200 || response.status >= 300) return [];
  try {
    const found = model.reconcileAll
      ? model.reconcileAll(request, response, costContext)
      : [model.reconcile?.(request, response, costContext)].filter((one) => one != null);
    if (!Array.isArray(found)) throw new TypeError('the cost model reconciled no list');
    // A malformed price is not applied: the call it names keeps its estimate.
    return found.filter(
      (one): one is CostReconciliation =>
        typeof one === 'object' && one !== null && typeof one.ref === 'string' && Number.isSafeInteger(one.micros),
    );
  } catch (error) {
    record.note = `late prices not read (${error instanceof Error ? error.message : 'cost model error'})`;
    return [];
  }
}

/**
 * Replaces the estimate of each earlier call named in `late` that still awaits its price: its
 * settlement is corrected on every key of its chain, and its audit record is written again with
 * the real price.
 */
async function applyLatePrices(
  context: VaultContext,
  vendor: ConfiguredVendor,
  late: readonly CostReconciliation[],
): Promise<void> {
  const vendorName = vendor.definition.name;
  await Promise.all(
    late.map(async ({ ref, micros }) => {
      const pendingRef = `${vendorName}:${ref}`;
      const store = context.keyStore;
      // Settled before it is taken (a settlement applied twice sets the same amount): one that fails
      // leaves the entry to a later read of the same object; taken for good, the price would be lost.
      const original = await (store.getPending ? store.getPending(pendingRef) : store.takePending(pendingRef));
      if (!original) return;
      try {
        await context.ledger.settle({ reservationId: original.id, micros, now: context.now() });
      } catch (error) {
        // A store that cannot read without taking gets it back, best effort.
        if (!store.getPending) await store.putPending(pendingRef, original, PENDING_TTL_MS).catch(() => {});
        throw error;
      }
      // Of concurrent readers, the one that takes it writes the record again.
      if (store.getPending && !(await store.takePending(pendingRef))) return;
      context.audit.write({
        ...original,
        revision: (original.revision ?? 0) + 1,
        actualMicros: micros,
        note: `${original.note ? `${original.note}; ` : ''}reconciled to the vendor's price`,
      });
    }),
  );
}

/** The 413 denial of a body over the limit; the proxy and the capped fetch word it alike. */
function tooLarge(size: string, limitBytes: number): InvalidRequestError {
  return new InvalidRequestError({
    status: 413,
    message: `Keybrake denied this call: the request body is ${size} the ${limitBytes}-byte limit. The call was not sent. Retrying will not help; send a smaller body.`,
  });
}

/**
 * The micro-dollars a call reserves: its known estimate, or the chain's fallback for an unknown
 * cost; denied without one. `path` is only quoted in the denial, so it is the audited path, with any
 * vault key redacted; so is the model's reason, which often quotes the path too.
 */
function resolveEstimate(
  estimate: CostEstimate,
  chain: readonly KeyRecord[],
  method: string,
  path: string,
  vendor: ConfiguredVendor,
  record: AuditRecord,
): MicroUsd {
  if (estimate?.kind === 'known' && Number.isSafeInteger(estimate.micros) && estimate.micros >= 0)
    return estimate.micros;
  if (estimate?.kind !== 'unknown') {
    record.note = 'the cost model returned a malformed estimate';
    throw costModelError(vendor, method, path, 'returned a malformed estimate for');
  }
  const reason = redactVaultKeys(String(estimate.reason));
  if (estimate.fallback === false) {
    throw new UnknownCostError({
      message: `Keybrake denied this call: the cost of ${method} ${path} cannot be determined (${reason}), and no fallback estimate can stand for it. The call was not sent. Retrying will not help.`,
    });
  }
  // The largest fallback of the chain: a child cannot reserve less than an ancestor asks.
  let fallback: MicroUsd | undefined;
  for (const entry of chain) {
    const own = entry.fallbackEstimateMicros;
    if (own !== undefined && (fallback === undefined || own > fallback)) fallback = own;
  }
  if (fallback !== undefined) return fallback;
  throw new UnknownCostError({
    message: `Keybrake denied this call: the cost of ${method} ${path} cannot be determined (${reason}), so it cannot be capped. Retrying will not help; set a fallbackEstimateUsd on the key to allow it.`,
  });
}

/**
 * A custom cost model that threw, or answered with anything but a known non-negative whole number
 * of micro-dollars or `unknown`: a bug in the model, not the vendor's or the storage's fault, so
 * denied for good (no fallback estimate stands for it) and not as a retryable outage.
 */
function costModelError(vendor: ConfiguredVendor, method: string, path: string, what: string): UnknownCostError {
  const fix = vendor.builtin ? 'this is a Keybrake bug, please report it' : 'fix the cost model';
  return new UnknownCostError({
    message: `Keybrake denied this call: the cost model of vendor "${vendor.definition.name}" ${what} ${method} ${path}, so it cannot be capped. The call was not sent. Retrying will not help; ${fix}.`,
  });
}

function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null | undefined)?.name;
  return typeof name === 'string' ? name.slice(0, 40) : typeof error;
}

function capError(
  key: KeyRecord,
  limiting: KeyRecord,
  cap: CapExceededError['cap'],
  limit: number,
  spent: number,
  reserved: number,
  attempted: MicroUsd,
): CapExceededError {
  const isCalls = cap === 'calls';
  return new CapExceededError({
    keyId: key.id,
    label: key.label,
    limitingKeyId: limiting.id,
    limitingLabel: limiting.label,
    cap,
    capUsd: isCalls ? limit : fromMicroUsd(limit),
    spentUsd: isCalls ? spent : fromMicroUsd(spent),
    reservedUsd: isCalls ? 0 : fromMicroUsd(reserved),
    attemptedUsd: isCalls ? 1 : fromMicroUsd(attempted),
  });
}

function deny(context: VaultContext, state: CallState, error: KeybrakeError): VaultResponse {
  const allowed = state.record.decision === 'allowed';
  if (!allowed) {
    state.record.reason = error.code;
    state.record.actualMicros = 0;
  }
  if (error.code === 'KEYBRAKE_UPSTREAM_ERROR') state.record.reason = error.code;
  finish(context, state);
  // A denial by policy stops the tool run it happened in, and so does a call whose outcome is
  // unknown (money may have moved: the tool must not be run again). An outage that sent nothing
  // must not turn the tool's later errors into it.
  if (isPolicyDenial(error) || (error instanceof UpstreamError && error.outcomeUnknown)) recordDenial(error);
  const shaped = state.vendor?.definition.errorResponse(error) ?? genericErrorResponse(error);
  const headers: ResponseHeaderRecord = {};
  for (const name in shaped.headers) headers[name.toLowerCase()] = shaped.headers[name] as string;
  headers['x-keybrake-code'] = error.code;
  return new LazyVaultResponse(shaped.status, headers, encoder.encode(shaped.body), {
    auditId: state.auditId,
    keyId: state.record.keyId,
    vendor: state.record.vendor,
    decision: allowed ? 'allowed' : 'denied',
    error,
    estimatedMicros: state.record.estimatedMicros,
    actualMicros: state.record.actualMicros,
  });
}

function genericErrorResponse(error: KeybrakeError): VendorErrorResponse {
  const retry = error.retryable ? 'true' : 'false';
  return {
    status: error.status,
    headers: { 'content-type': 'application/json', 'stripe-should-retry': retry, 'x-should-retry': retry },
    body: JSON.stringify({ error: { type: 'keybrake_error', ...error.toJSON() } }),
  };
}

function finish(context: VaultContext, state: CallState): void {
  state.record.latencyMs = Math.round(((state.answered ?? performance.now()) - state.started) * 1000) / 1000;
  context.audit.write(state.record);
}

async function forward(
  context: VaultContext,
  vendor: ConfiguredVendor,
  method: string,
  pathAndQuery: string,
  headers: Record<string, string>,
  body: Uint8Array,
  signal: AbortSignal | undefined,
): Promise<UpstreamAnswer> {
  const base = vendor.baseUrl;
  signal?.throwIfAborted();
  // One deadline for the whole answer, armed once the vendor has started answering (an
  // informational 1xx answer, or the answer's headers): undici's headers timeout starts again at
  // every 1xx, and its body timeout only bounds the wait between chunks. Not before: a request
  // still waiting for a connection has not been sent, and cut off then it would be counted.
  const deadline = new Deadline(performance.now() + context.upstreamTimeoutMs);
  const onAbort = signal && (() => deadline.destroy(signal.reason));
  if (onAbort) signal.addEventListener('abort', onAbort, { once: true });
  let response: Dispatcher.ResponseData<null>;
  let bytes: Uint8Array;
  try {
    response = await context.dispatcher.request({
      origin: base.origin,
      path: `${base.pathname === '/' ? '' : base.pathname.replace(/\/$/, '')}${pathAndQuery}`,
      method: method as 'GET',
      headers,
      body: body.byteLength === 0 && (method === 'GET' || method === 'HEAD') ? null : body,
      headersTimeout: context.upstreamTimeoutMs,
      bodyTimeout: context.upstreamTimeoutMs,
      // undici reads it as an EventEmitter (`once`, `removeListener`).
      signal: deadline as unknown as EventEmitter,
      onInfo: deadline.arm,
    });
    deadline.arm();
    bytes = new Uint8Array(await response.body.arrayBuffer());
  } finally {
    reading.delete(deadline);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
  // undici gives lower-case names, and arrays only for repeated headers.
  const dropAlso = connectionTokens(response.headers.connection);
  const responseHeaders: ResponseHeaderRecord = {};
  for (const name in response.headers) {
    const value = response.headers[name];
    // Keybrake's own headers (`x-keybrake-code`) are said only by Keybrake, never by the vendor.
    if (value !== undefined && !RESPONSE_DROP.has(name) && !dropAlso?.has(name) && !name.startsWith('x-keybrake-'))
      responseHeaders[name] = value;
  }
  // Asked for identity; a vendor (or a CDN) that compressed anyway is decoded here (every coding
  // it lists, `gzip, gzip` too), so the cost model and the caller read plain bytes. A body in an
  // encoding Keybrake cannot undo is not passed on: it could not be searched for an echoed secret,
  // nor priced.
  const encoding = response.headers['content-encoding'];
  if (encoding !== undefined && bytes.byteLength > 0) {
    const decoded = decode(String(encoding), bytes);
    if (!decoded) throw new UndecodableAnswerError(String(encoding));
    bytes = decoded;
  }
  // A HEAD answer has no body to measure: its length is only in the header.
  const length = method === 'HEAD' ? response.headers['content-length'] : undefined;
  if (length !== undefined) responseHeaders['content-length'] = length;
  return { status: response.statusCode, headers: responseHeaders, body: bytes };
}

/** The headers of a cost model's lookup, before the vendor's `authorize` adds its credentials. */
const LOOKUP_HEADERS: Readonly<Record<string, string>> = { accept: 'application/json' };

/** A key chain read that leaves revocations to the ledger's reservation. */
const NO_REVOCATIONS = { revocations: false } as const;

/**
 * A denial of a call whose chain was read without its revocations (left to the reservation, which
 * a check before it refused first): if a key of the chain is revoked, the call is denied as revoked,
 * as it is when the chain is read with them — whatever the replica had cached. One read more, on
 * denials only; if it fails, the first denial stands.
 */
async function revokedFirst(context: VaultContext, state: CallState, error: KeybrakeError): Promise<KeybrakeError> {
  // A storage failure is not asked of the storage again.
  if (
    state.revocationsUnread === undefined ||
    error.code === 'KEYBRAKE_KEY_REVOKED' ||
    error.code === 'KEYBRAKE_STORAGE_ERROR'
  )
    return error;
  try {
    const chain = await loadKeyChain(context, state.revocationsUnread);
    const revoked = chain.find((key) => key.revokedAt !== undefined);
    const self = chain[0];
    if (revoked && self) return new KeyRevokedError({ keyId: self.id, label: self.label, revokedKeyId: revoked.id });
  } catch {
    // The denial it had stands.
  }
  return error;
}

/** What a cost model may use besides the request: FX, and uncounted reads with the real credentials. */
class VaultCostContext implements CostContext {
  readonly fx: CostContext['fx'];
  // Private fields, not own properties: the vendor holds the real secret, and the vault context
  // every vendor's, so a cost model that logs or serialises its context must not reach them.
  readonly #context: VaultContext;
  readonly #vendor: ConfiguredVendor;
  readonly #signal: AbortSignal | undefined;
  /** The call's vault key, if its chain's revocations are to be read before each read of the vendor. */
  readonly #checkRevocationsOf: string | undefined;
  /** Those checks, one per lookup so far: rejected if the chain is revoked (or could not be read). */
  #revocationChecks: Array<Promise<void>> | undefined;
  constructor(
    context: VaultContext,
    vendor: ConfiguredVendor,
    signal: AbortSignal | undefined,
    checkRevocationsOf: string | undefined,
  ) {
    this.#context = context;
    this.#vendor = vendor;
    this.#signal = signal;
    this.#checkRevocationsOf = checkRevocationsOf;
    this.fx = context.fx;
  }
  /**
   * Rejects with the first failed revocation check of this call's lookups (a revoked key); resolves
   * once they all passed; `undefined` (nothing to wait for) if no lookup was made.
   */
  revocationsChecked(): Promise<unknown> | undefined {
    return this.#revocationChecks && Promise.all(this.#revocationChecks);
  }
  async lookup(path: string): Promise<unknown> {
    if (this.#checkRevocationsOf !== undefined) {
      // A revoked key is never read with: the model gets `undefined`, as for any failed read (never
      // a rejection it may not handle), and the vault then denies the call as revoked.
      const context = this.#context;
      const check = loadKeyChain(context, this.#checkRevocationsOf).then((chain) =>
        assertChainUsable(chain, context.now()),
      );
      if (this.#revocationChecks === undefined) this.#revocationChecks = [check];
      else this.#revocationChecks.push(check);
      try {
        await check;
      } catch {
        return undefined;
      }
    }
    const headers: Record<string, string> = { ...LOOKUP_HEADERS };
    const vendor = this.#vendor;
    const authorized = vendor.definition.authorize({ path, headers }, vendor.secret);
    try {
      const response = await forward(
        this.#context,
        vendor,
        'GET',
        authorized.path,
        headers,
        new Uint8Array(),
        this.#signal,
      );
      if (response.status < 200 || response.status >= 300) return undefined;
      // The model (and through its notes, the audit) must not read an echoed credential either.
      redactEchoedCredential(response, sentCredentials(vendor, headers, LOOKUP_HEADERS, authorized.path));
      return parseJson(response.body, response.headers);
    } catch (error) {
      // The caller gave up: not a vendor that could not be read.
      if (this.#signal?.aborted) throw error;
      return undefined;
    }
  }
}

function parseJson(body: Uint8Array, headers: ResponseHeaderRecord): unknown {
  if (body.byteLength === 0) return undefined;
  const type = headerValue(headers, 'content-type') ?? '';
  if (type && !type.includes('json')) return undefined;
  try {
    return JSON.parse(decoder.decode(body));
  } catch {
    return undefined;
  }
}

/** A header name: an RFC 9110 token. */
const HEADER_NAME = /^[\w!#$%&'*+.^`|~-]+$/;
/** A character a header value may not hold (RFC 9110 §5.5): a line break, NUL, another control character, or one above U+00FF. */
const NOT_IN_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Reads request headers into `headers`, one lowercase-keyed record (repeated values joined), without
 * building a `Headers`. A plain object is checked as fetch's `Headers` checks it (a `Headers`, or
 * node:http, already has): a value that is not a string is read as its string, as fetch does, and
 * the name of the first header with an invalid name or value is returned, for the call to be
 * refused before anything is reserved. undici would refuse to send it, only after that.
 */
function readHeaders(input: VaultRequest['headers'], headers: Record<string, string>): string | undefined {
  if (input instanceof Headers) {
    for (const [name, value] of input) headers[name] = value;
    return undefined;
  }
  let invalid: string | undefined;
  for (const name in input) {
    const value: unknown = input[name];
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : Array.isArray(value) ? value.join(', ') : String(value);
    if (invalid === undefined && (!HEADER_NAME.test(name) || NOT_IN_HEADER_VALUE.test(text))) invalid = name;
    headers[name.toLowerCase()] = text;
  }
  return invalid;
}

/** The denial of a call with a header fetch would refuse: it names the header, never its value (it may hold a secret). */
function invalidHeaderError(name: string): InvalidRequestError {
  const problem = HEADER_NAME.test(name)
    ? `its ${JSON.stringify(redactVaultKeys(name).slice(0, 80))} header holds a character a header may not (a line break, another control character, or one above U+00FF)`
    : `it has a header named ${JSON.stringify(redactVaultKeys(name).slice(0, 40))}, which is not a valid header name`;
  return new InvalidRequestError({
    status: 400,
    message: `Keybrake denied this call: ${problem}. The call was not sent; fetch itself would refuse it.`,
  });
}

function toBytes(body: VaultRequest['body']): Uint8Array {
  if (body === undefined) return new Uint8Array();
  return typeof body === 'string' ? encoder.encode(body) : body;
}

/**
 * The request's fingerprint under its `Idempotency-Key`, as the ledger's idempotency key: a retry
 * replays the original only if it is the same request (method, path, query and body) in the same
 * scope (the configured vendor, and its `idempotencyScopeHeaders` such as Stripe's `Stripe-Account`), as the
 * vendor's own idempotency layer checks. A key reused for a different request is a new call.
 */
function idempotencyDigest(
  key: string,
  scope: string,
  method: string,
  path: string,
  search: string,
  body: Uint8Array,
): string {
  return createHash('sha256')
    .update(`${key}\u0000${scope}\u0000${method} ${path}${search}\u0000`)
    .update(body)
    .digest('base64url');
}

/** The values of the headers that scope the vendor's idempotency keys (`stripe-account`), as one string. */
function scopeOf(definition: VendorDefinition, headers: Record<string, string>): string {
  const names = definition.idempotencyScopeHeaders;
  if (names === undefined) return '';
  let scope = '';
  // Request header names are lower case here; a definition may spell them as HTTP does (`Acme-Account`).
  for (const name of names) {
    const lower = name.toLowerCase();
    scope += `${lower}=${JSON.stringify(headers[lower] ?? null)}\u0000`;
  }
  return scope;
}

function honorsIdempotency(definition: VendorDefinition, method: string, path: string): boolean {
  const honors = definition.honorsIdempotencyKey;
  return typeof honors === 'function' ? honors(method, path) : honors === true;
}

/**
 * The header names a `Connection` header nominates as hop-by-hop (RFC 9110 §7.6.1); `undefined`
 * for none, as with the usual `keep-alive` or `close` alone.
 */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined;
  return new Set(
    String(value)
      .split(',')
      .map((token) => token.trim().toLowerCase()),
  );
}

/**
 * Errors raised before a byte of the request is written: it never reached the vendor. Besides
 * connection and name lookup failures, undici's own refusals of a request it will not send.
 */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
]);

/**
 * Errors a connection can also raise after it carried the request (an ICMP "unreachable" on a
 * reused socket): "never sent" only when raised by the connect itself.
 */
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH']);

function isConnectError(error: unknown): boolean {
  if (error instanceof undiciErrors.ConnectTimeoutError) return true;
  const { code, syscall } = (error ?? {}) as { code?: string; syscall?: string };
  if (code === undefined) return false;
  return CONNECT_CODES.has(code) || (UNREACHABLE_CODES.has(code) && syscall === 'connect');
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    (error as { name?: string } | undefined)?.name === 'TimeoutError'
  );
}

/**
 * What a call's request is given as its signal: an emitter undici calls `once('abort', …)` on, not
 * an `AbortSignal` (whose listeners cost undici ~30 µs of latency a call). `destroy` aborts the
 * request, or the answer being read, with its reason: fired by the deadline sweep, or by the
 * caller's own signal. It has no `aborted` property, by which undici would take it for an
 * `AbortSignal`.
 */
class Deadline {
  reason: unknown;
  #listener: (() => void) | undefined;
  readonly #at: number;
  /** @param at - When the call must be answered by (`performance.now()` ms). */
  constructor(at: number) {
    this.#at = at;
  }
  /** From now on the sweep cuts the call off at its deadline (the vendor has the request). */
  readonly arm = (): void => {
    if (reading.has(this)) return;
    reading.set(this, this.#at);
    sweeper ??= setInterval(cutOffLateAnswers, 1000).unref();
  };
  once(_event: 'abort', listener: () => void): void {
    this.#listener = listener;
  }
  /** Only checked for, as what tells undici this is an emitter. */
  on(event: 'abort', listener: () => void): void {
    this.once(event, listener);
  }
  removeListener(): void {
    this.#listener = undefined;
  }
  destroy(reason: unknown): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.#listener?.();
  }
}

/**
 * Calls at the vendor, with their deadlines (`performance.now()` ms). One sweep a second cuts off
 * those past it, within a second of it: cheaper per call than a timer of its own.
 */
const reading = new Map<Deadline, number>();
let sweeper: NodeJS.Timeout | undefined;

function cutOffLateAnswers(): void {
  const now = performance.now();
  for (const [call, deadline] of reading) {
    if (deadline > now) continue;
    reading.delete(call);
    call.destroy(new DOMException('The vendor did not answer in time.', 'TimeoutError'));
  }
  if (reading.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/**
 * Undoes every coding a `Content-Encoding` lists (applied in order, so undone last first); `undefined`
 * if one cannot be.
 *
 * @throws OversizedAnswerError if a coding decodes past {@link MAX_DECODED_BYTES}.
 */
function decode(encoding: string, bytes: Uint8Array): Uint8Array | undefined {
  const names = encoding.split(',');
  if (names.length > MAX_CODINGS) return undefined;
  let decoded: Uint8Array | undefined = bytes;
  for (let index = names.length - 1; index >= 0 && decoded; index--)
    decoded = decodeOne(names[index] as string, decoded);
  return decoded;
}

/**
 * Decodes a single `gzip`, `deflate`, `br` or (on Node 22.15 and later) `zstd` body (up to
 * {@link MAX_DECODED_BYTES}); `undefined` if it cannot.
 *
 * @throws OversizedAnswerError if it decodes past {@link MAX_DECODED_BYTES}.
 */
function decodeOne(encoding: string, bytes: Uint8Array): Uint8Array | undefined {
  const name = encoding.trim().toLowerCase();
  if (name === 'identity' || name === '') return bytes;
  const options = { maxOutputLength: MAX_DECODED_BYTES };
  try {
    if (name === 'gzip' || name === 'x-gzip') return gunzipSync(bytes, options);
    if (name === 'deflate') return inflateSync(bytes, options);
    if (name === 'br') return brotliDecompressSync(bytes, options);
    // Node 22.15 and later.
    if (name === 'zstd' && typeof zlib.zstdDecompressSync === 'function')
      return zlib.zstdDecompressSync(bytes, options);
  } catch (error) {
    // Past `maxOutputLength` zlib throws a RangeError (ERR_BUFFER_TOO_LARGE): the coding was read
    // fine, so the answer is reported as too big, not as unreadable.
    if (error instanceof RangeError) throw new OversizedAnswerError();
    return undefined;
  }
  return undefined;
}
