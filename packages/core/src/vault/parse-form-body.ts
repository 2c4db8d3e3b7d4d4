/**
 * Decodes an `application/x-www-form-urlencoded` body into flat keys as sent, e.g.
 * `{ 'line_items[0][quantity]': '2' }`. For a repeated key the last value wins (use
 * `URLSearchParams` to read every value).
 *
 * @example
 * ```ts
 * parseFormBody('amount=2000&currency=usd'); // { amount: '2000', currency: 'usd' }
 * ```
 */
export function parseFormBody(body: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(body)) result[name] = value;
  return result;
}
