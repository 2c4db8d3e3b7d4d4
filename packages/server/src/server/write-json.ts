import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FieldErrors } from '../wire/to-field-errors.js';
import type { WireError } from '../wire/wire-types.js';

/**
 * Answers with a JSON body.
 *
 * @example
 * ```ts
 * writeJson(response, 200, { revoked: ['kbk_1'] });
 * ```
 */
export function writeJson(response: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}) {
  const bytes = Buffer.from(JSON.stringify(body));
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': bytes.byteLength,
    'cache-control': 'no-store',
  });
  response.end(bytes);
}

/**
 * Answers with an admin API error, `{ "error": { "code", "message", "fields"? } }`.
 *
 * @example
 * ```ts
 * writeError(response, 404, 'KEYBRAKE_NOT_FOUND', 'Key kbk_1 does not exist.');
 * ```
 */
export function writeError(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  options: { fields?: FieldErrors | undefined; headers?: OutgoingHttpHeaders | undefined } = {},
) {
  const body: WireError = { error: { code, message, ...(options.fields ? { fields: options.fields } : {}) } };
  writeJson(response, status, body, options.headers);
}
