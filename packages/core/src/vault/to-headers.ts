import type { ResponseHeaderRecord } from './vault-request.js';

/**
 * Builds WHATWG `Headers` from a {@link ResponseHeaderRecord} (each array value appended).
 *
 * @example
 * ```ts
 * toHeaders({ 'set-cookie': ['a=1', 'b=2'] }).getSetCookie(); // ['a=1', 'b=2']
 * ```
 */
export function toHeaders(record: Readonly<ResponseHeaderRecord>): Headers {
  const headers = new Headers();
  for (const name in record) {
    const value = record[name] as string | string[];
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return headers;
}
