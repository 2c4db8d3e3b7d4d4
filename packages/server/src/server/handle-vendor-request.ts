import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  type AuditActor,
  normalizePath,
  parseVaultKey,
  readVaultKey,
  redactVaultKeys,
  toAuditText,
  type VaultResponse,
} from '@keybrake/core';
import type { ProxyContext } from './proxy-context.js';
import { readRequestBody } from './read-request-body.js';

const ACTOR_HEADERS = {
  member: 'x-keybrake-member',
  tool: 'x-keybrake-tool',
  toolCallId: 'x-keybrake-tool-call-id',
} as const;

/**
 * Answers one vendor call: `/{vendor}/…` or a bare vendor path routed by the key's vendor. The vault
 * does everything (authenticate, allow-list, estimate, reserve, forward, settle, audit); this
 * reads the body within the limit (past it, it stops reading and the vault denies the call with
 * 413), passes the call through, writes the answer, logs one line and counts it. A client that
 * disconnects does not cancel the vendor call: it completes and is settled at its real cost
 * (cancelling would leave the outcome, and the spend, unknown).
 *
 * @example
 * ```ts
 * await handleVendorRequest(context, request, response, '/v1/payment_intents', '?expand[]=customer');
 * ```
 */
export async function handleVendorRequest(
  context: ProxyContext,
  request: IncomingMessage,
  response: ServerResponse,
  pathname: string,
  search: string,
): Promise<void> {
  const method = (request.method ?? 'GET').toUpperCase();
  const { vendor: routeVendor, path } = splitVendorRoute(pathname, context.vault.vendors);
  const headers = vaultHeaders(request.headers);
  const actor = readActor(request.headers);
  const body = await readRequestBody(request, context.maxBodyBytes);
  // A body over the limit is not read any further: the vault denies the call (413, audited under
  // its key) and the connection is closed, since the rest of the body is still on it.
  const overLimit = body.kind === 'too-large';
  // From here: the latency is Keybrake's and the vendor's, not the time the client took to upload.
  const started = performance.now();

  context.metrics.addInFlight(1);
  let answer: VaultResponse;
  try {
    answer = await context.vault.handle({
      vendor: routeVendor,
      method,
      path: `${path}${search}`,
      headers,
      body: overLimit ? undefined : body.bytes,
      bodyOverLimit: overLimit ? { limitBytes: context.maxBodyBytes, declaredBytes: body.declaredBytes } : undefined,
      actor,
    });
  } finally {
    context.metrics.addInFlight(-1);
  }
  const outcome = answer.keybrake;
  // A call refused before its key was identified (malformed or unknown key) names only the key presented.
  const presentedKeyId = outcome.keyId === undefined ? keyIdOf(headers) : undefined;
  const vendor = outcome.vendor ?? routeVendor;
  const status = answer.status;
  const bytes = Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength);
  const headersOut: Record<string, string | string[] | number> = {
    ...answer.headerRecord,
    'x-keybrake-audit-id': outcome.auditId,
    ...(overLimit || context.isClosing() ? { connection: 'close' } : {}),
  };
  // A HEAD answer keeps the vendor's length (there is no body to measure); 204 and 304 have none.
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) delete headersOut['content-length'];
  else if (method !== 'HEAD' || headersOut['content-length'] === undefined)
    headersOut['content-length'] = bytes.byteLength;
  response.writeHead(status, headersOut);
  response.end(method === 'HEAD' || status === 204 || status === 304 ? undefined : bytes);
  finish(context, {
    keyId: outcome.keyId,
    presentedKeyId,
    vendor: vendor ?? 'unknown',
    method,
    path,
    status,
    decision: outcome.decision,
    reason: outcome.error?.code,
    estimatedMicros: outcome.estimatedMicros,
    actualMicros: outcome.actualMicros,
    started,
    actor,
    auditId: outcome.auditId,
  });
}

interface FinishedCall {
  /** The authenticated key. */
  keyId: string | undefined;
  /** The id in the presented vault key when the vault could not identify it (unknown); a revoked or expired key has `keyId`. */
  presentedKeyId?: string | undefined;
  vendor: string;
  method: string;
  path: string;
  status: number;
  decision: 'allowed' | 'denied';
  reason: string | undefined;
  estimatedMicros: number;
  actualMicros: number;
  started: number;
  actor: AuditActor | undefined;
  auditId?: string | undefined;
}

/** Counts the call and logs its one line: ids, never a key or a secret. */
function finish(context: ProxyContext, call: FinishedCall): void {
  const seconds = (performance.now() - call.started) / 1000;
  context.metrics.recordCall({
    vendor: call.vendor,
    decision: call.decision,
    reason: call.reason,
    actualMicros: call.actualMicros,
    seconds,
  });
  // Allowed calls log at info, denials at warn: a level above drops the line, and building it.
  const level = call.decision === 'denied' ? 'warn' : 'info';
  if (!context.logger.isLevelEnabled(level)) return;
  const normalized = normalizePath(call.path);
  const entry = {
    keyId: call.keyId ?? null,
    ...(call.presentedKeyId ? { presentedKeyId: call.presentedKeyId } : {}),
    vendor: call.vendor,
    method: call.method,
    path: redactVaultKeys(normalized.ok ? normalized.path : call.path).slice(0, 256),
    status: call.status,
    decision: call.decision,
    reason: call.reason ?? null,
    estimatedUsd: call.estimatedMicros / 1_000_000,
    costUsd: call.actualMicros / 1_000_000,
    latencyMs: Math.round(seconds * 1_000_000) / 1000,
    member: call.actor?.member ?? null,
    tool: call.actor?.tool ?? null,
    toolCallId: call.actor?.toolCallId ?? null,
    auditId: call.auditId ?? null,
  };
  if (level === 'warn') context.logger.warn(entry, 'vendor call denied');
  else context.logger.info(entry, 'vendor call');
}

/** `/stripe/v1/charges` → `{ vendor: 'stripe', path: '/v1/charges' }`; a bare path keeps no vendor. */
function splitVendorRoute(pathname: string, vendors: readonly string[]): { vendor?: string; path: string } {
  const end = pathname.indexOf('/', 1);
  const first = pathname.slice(1, end === -1 ? undefined : end);
  if (!vendors.includes(first)) return { path: pathname };
  return { vendor: first, path: end === -1 ? '/' : pathname.slice(end) };
}

/** The request's headers minus Keybrake's own (`x-keybrake-*`), which are never forwarded. */
function vaultHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const result: Record<string, string | string[] | undefined> = {};
  for (const name in headers) if (!name.startsWith('x-keybrake-')) result[name] = headers[name];
  return result;
}

function readActor(headers: IncomingHttpHeaders): AuditActor | undefined {
  const member = actorHeader(headers, ACTOR_HEADERS.member);
  const tool = actorHeader(headers, ACTOR_HEADERS.tool);
  const toolCallId = actorHeader(headers, ACTOR_HEADERS.toolCallId);
  return member || tool || toolCallId ? { member, tool, toolCallId } : undefined;
}

/**
 * One actor header as core audits it (see `toAuditText`): the first value, a vault key in it
 * redacted, at most 200 characters (it is logged too); `undefined` if absent or empty.
 */
function actorHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers[name];
  const text = Array.isArray(raw) ? raw[0] : raw;
  return text === undefined || text === '' ? undefined : toAuditText(text);
}

/** The key id of the presented vault key (format and checksum only, no lookup), for shaping a denial. */
function keyIdOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  const candidate = readVaultKey(new Headers(typeof authorization === 'string' ? { authorization } : {}));
  return candidate === undefined ? undefined : parseVaultKey(candidate)?.keyId;
}
