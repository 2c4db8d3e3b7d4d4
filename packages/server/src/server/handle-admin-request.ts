import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { KeybrakeError, redactVaultKeys, toKeyId } from '@keybrake/core';
import { parseAuditQuery } from '../wire/parse-audit-query.js';
import { parseIssueKeyBody } from '../wire/parse-issue-key-body.js';
import { toWireAuditResult } from '../wire/to-wire-audit-result.js';
import { toWireIssuedKey } from '../wire/to-wire-issued-key.js';
import { toWireKeyStatus } from '../wire/to-wire-key-status.js';
import type { WireRevoked } from '../wire/wire-types.js';
import type { ProxyContext } from './proxy-context.js';
import { readRequestBody } from './read-request-body.js';
import { writeError, writeJson } from './write-json.js';

/** Largest admin request body, bytes. */
export const MAX_ADMIN_BODY_BYTES = 65_536;
const KEY_ROUTE = /^\/vault\/keys\/([^/]+)$/;
const KEY_ID = /^kbk_[0-9A-Za-z]{1,64}$/;

/**
 * Answers the admin API under `/vault/`: issue, show and revoke keys (named by id, or by the vault
 * key itself), query the audit log. Every route needs `Authorization: Bearer <admin token>`. Logs
 * one line per call (route, status, key id), never a body or a vault key.
 *
 * @example
 * ```ts
 * if (pathname.startsWith('/vault/')) await handleAdminRequest(context, request, response, pathname, search);
 * ```
 */
export async function handleAdminRequest(
  context: ProxyContext,
  request: IncomingMessage,
  response: ServerResponse,
  pathname: string,
  search: string,
): Promise<void> {
  const started = performance.now();
  const method = (request.method ?? 'GET').toUpperCase();
  // Logged as a template, never as the path: an unauthorised caller's path may hold a vault key.
  const route =
    pathname === '/vault/keys' || pathname === '/vault/audit'
      ? pathname
      : KEY_ROUTE.test(pathname)
        ? '/vault/keys/{id}'
        : '/vault/*';
  let keyId: string | undefined;
  try {
    if (!context.isAdmin(request.headers.authorization)) {
      writeError(
        response,
        401,
        'KEYBRAKE_UNAUTHORIZED',
        'The admin API needs Authorization: Bearer <admin token> (KEYBRAKE_ADMIN_TOKEN).',
        { headers: { 'www-authenticate': 'Bearer realm="keybrake"' } },
      );
      return;
    }
    if (pathname === '/vault/keys') {
      if (method !== 'POST') return methodNotAllowed(response, 'POST');
      keyId = await issueKey(context, request, response);
      return;
    }
    const keyMatch = KEY_ROUTE.exec(pathname);
    if (keyMatch) {
      const presented = keyMatch[1] ?? '';
      // A vault key (a leaked one an operator revokes, say) names its key; it is never logged or echoed.
      const named = toKeyId(presented);
      keyId = KEY_ID.test(named) ? named : undefined;
      if (method !== 'GET' && method !== 'DELETE') return methodNotAllowed(response, 'GET, DELETE');
      if (keyId === undefined) {
        const shown = JSON.stringify(redactVaultKeys(presented).slice(0, 80));
        writeError(response, 404, 'KEYBRAKE_NOT_FOUND', `Key ${shown} does not exist.`);
        return;
      }
      if (method === 'GET') writeJson(response, 200, toWireKeyStatus(await context.vault.getKeyStatus(keyId)));
      else writeJson(response, 200, (await context.vault.revokeKey(keyId)) satisfies WireRevoked);
      return;
    }
    if (pathname === '/vault/audit') {
      if (method !== 'GET') return methodNotAllowed(response, 'GET');
      const parsed = parseAuditQuery(new URLSearchParams(search));
      if (!parsed.ok) {
        writeError(response, 400, 'KEYBRAKE_INVALID_REQUEST', 'Invalid audit query.', { fields: parsed.fields });
        return;
      }
      writeJson(response, 200, toWireAuditResult(await context.vault.queryAudit(parsed.query)));
      return;
    }
    const shown = redactVaultKeys(pathname).slice(0, 200);
    writeError(response, 404, 'KEYBRAKE_NOT_FOUND', `No admin route ${method} ${shown}.`);
  } catch (error) {
    if (!KeybrakeError.isInstance(error)) throw error;
    const status = adminStatus(error);
    const code = status === 404 ? 'KEYBRAKE_NOT_FOUND' : error.code;
    writeError(response, status, code, error.message);
  } finally {
    context.logger.info(
      {
        admin: true,
        method,
        route,
        keyId: keyId ?? null,
        // An error thrown past here is answered 500 by the server, after this line; a client that
        // closed the connection while sending its body is answered nothing (`status` null).
        status: response.headersSent ? response.statusCode : request.destroyed && !request.complete ? null : 500,
        latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
      },
      'admin call',
    );
  }
}

/** Issues a key; returns the new key's id for the log line. */
async function issueKey(
  context: ProxyContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<string | undefined> {
  const body = await readRequestBody(request, MAX_ADMIN_BODY_BYTES);
  if (body.kind === 'too-large') {
    writeError(response, 413, 'KEYBRAKE_INVALID_REQUEST', `The body is over ${MAX_ADMIN_BODY_BYTES} bytes.`, {
      headers: { connection: 'close' },
    });
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body.bytes).toString('utf8'));
  } catch {
    writeError(response, 400, 'KEYBRAKE_INVALID_REQUEST', 'The body must be a JSON object.');
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    writeError(response, 400, 'KEYBRAKE_INVALID_REQUEST', 'The body must be a JSON object.');
    return undefined;
  }
  const parsed = parseIssueKeyBody({ body: json, vendors: context.vault.vendors });
  if (!parsed.ok) {
    const names = Object.keys(parsed.fields).join(', ');
    writeError(response, 400, 'KEYBRAKE_INVALID_POLICY', `Invalid key policy: check ${names}.`, {
      fields: parsed.fields,
    });
    return undefined;
  }
  const issued = await context.vault.issueKey(parsed.options);
  writeJson(response, 201, toWireIssuedKey(issued), { location: `/vault/keys/${issued.id}` });
  return issued.id;
}

function methodNotAllowed(response: ServerResponse, allow: string): void {
  writeError(response, 405, 'KEYBRAKE_METHOD_NOT_ALLOWED', `This route accepts ${allow}.`, { headers: { allow } });
}

/**
 * The admin status of a core error: an unknown key is 404, a storage failure 503, and every other
 * refusal of a policy (invalid, unknown vendor, parent revoked or expired) 400.
 */
function adminStatus(error: KeybrakeError): number {
  if (error.code === 'KEYBRAKE_INVALID_KEY') return 404;
  if (error.code === 'KEYBRAKE_STORAGE_ERROR') return 503;
  return error.status >= 500 ? error.status : 400;
}
