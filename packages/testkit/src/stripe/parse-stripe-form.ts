/**
 * Decodes an `application/x-www-form-urlencoded` body (as Stripe's SDKs send it) into flat bracketed keys, exactly
 * as sent: `line_items[0][price_data][unit_amount]`, `metadata[order_id]`. A repeated key keeps its last value.
 *
 * @param body - The raw request body or query string (without the leading `?`).
 * @returns The decoded parameters.
 * @example
 * ```ts
 * parseStripeForm('amount=2000&currency=usd&metadata%5Border%5D=42');
 * // { amount: '2000', currency: 'usd', 'metadata[order]': '42' }
 * ```
 */
export function parseStripeForm(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body));
}
