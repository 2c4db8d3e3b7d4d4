import { stripeError } from './stripe-error.js';

/** Flat bracketed Stripe parameters, as decoded by `parseStripeForm`. */
type Form = Record<string, string>;

/**
 * A string parameter that must be present and non-empty.
 *
 * @param form - Request parameters.
 * @param name - Parameter name.
 * @returns The value.
 * @throws Stripe's 400 `parameter_missing` error.
 * @example
 * ```ts
 * const destination = requiredParam(form, 'destination');
 * ```
 */
export function requiredParam(form: Form, name: string): string {
  const value = form[name];
  if (value === undefined || value === '') {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: 'parameter_missing',
      message: `Missing required param: ${name}.`,
      param: name,
    });
  }
  return value;
}

/**
 * An integer parameter.
 *
 * @param form - Request parameters.
 * @param name - Parameter name.
 * @param options - `required` throws when absent; `min` is the smallest value accepted.
 * @returns The integer, or `undefined` when absent and not required.
 * @throws Stripe's 400 `parameter_missing` or `parameter_invalid_integer` error.
 * @example
 * ```ts
 * const amount = integerParam(form, 'amount', { required: true, min: 1 });
 * ```
 */
export function integerParam(
  form: Form,
  name: string,
  options: { required: true; min?: number } | { required?: false; min?: number },
): number;
export function integerParam(
  form: Form,
  name: string,
  options?: { required?: boolean; min?: number },
): number | undefined;
export function integerParam(form: Form, name: string, options: { required?: boolean; min?: number } = {}) {
  const raw = options.required ? requiredParam(form, name) : form[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^-?\d+$/.test(raw)) {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: 'parameter_invalid_integer',
      message: `Invalid integer: ${raw}`,
      param: name,
    });
  }
  const value = Number(raw);
  if (options.min !== undefined && value < options.min) {
    throw stripeError(400, {
      type: 'invalid_request_error',
      code: 'parameter_invalid_integer',
      message: `This value must be greater than or equal to ${options.min}.`,
      param: name,
    });
  }
  return value;
}

/**
 * A boolean parameter (`true` / `false`).
 *
 * @param form - Request parameters.
 * @param name - Parameter name.
 * @returns The boolean, or `undefined` when absent.
 * @throws Stripe's 400 `parameter_invalid_boolean`-style error for other values.
 * @example
 * ```ts
 * const confirm = booleanParam(form, 'confirm') ?? false;
 * ```
 */
export function booleanParam(form: Form, name: string): boolean | undefined {
  const raw = form[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw stripeError(400, { type: 'invalid_request_error', message: `Invalid boolean: ${raw}`, param: name });
}

/**
 * The required, lower-cased `currency` parameter.
 *
 * @param form - Request parameters.
 * @param name - Parameter name.
 * @returns The ISO currency code in lower case.
 * @throws Stripe's 400 `parameter_missing` error.
 * @example
 * ```ts
 * currencyParam({ currency: 'USD' }); // 'usd'
 * ```
 */
export function currencyParam(form: Form, name = 'currency'): string {
  return requiredParam(form, name).toLowerCase();
}

/**
 * The `metadata[key]` parameters as an object.
 *
 * @param form - Request parameters.
 * @returns The metadata, `{}` when none.
 * @example
 * ```ts
 * metadataParam({ 'metadata[order]': '42' }); // { order: '42' }
 * ```
 */
export function metadataParam(form: Form): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(form)) {
    const found = /^metadata\[([^\]]+)\]$/.exec(key);
    if (found?.[1]) metadata[found[1]] = value;
  }
  return metadata;
}

/**
 * Indexed list parameters (`line_items[0][quantity]`) as one flat record per item, keys relative to the item
 * (`quantity`, `price_data[unit_amount]`).
 *
 * @param form - Request parameters.
 * @param name - List parameter name, e.g. `line_items`.
 * @returns The items in index order.
 * @example
 * ```ts
 * indexedParams({ 'line_items[0][quantity]': '2' }, 'line_items'); // [{ quantity: '2' }]
 * ```
 */
export function indexedParams(form: Form, name: string): Form[] {
  const items = new Map<number, Form>();
  const pattern = new RegExp(`^${name}\\[(\\d+)\\](.*)$`);
  for (const [key, value] of Object.entries(form)) {
    const found = pattern.exec(key);
    if (!found) continue;
    const index = Number(found[1]);
    const rest = (found[2] ?? '').replace(/^\[([^\]]*)\]/, '$1');
    const item = items.get(index) ?? {};
    item[rest] = value;
    items.set(index, item);
  }
  return [...items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
}

/**
 * An optional string parameter, `null` when absent (as Stripe objects show unset fields).
 *
 * @param form - Request parameters.
 * @param name - Parameter name.
 * @returns The value or `null`.
 * @example
 * ```ts
 * const description = optionalParam(form, 'description');
 * ```
 */
export function optionalParam(form: Form, name: string): string | null {
  const value = form[name];
  return value === undefined || value === '' ? null : value;
}
