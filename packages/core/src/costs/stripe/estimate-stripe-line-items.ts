import { z } from 'zod';
import type { MicroUsd } from '../../money/micro-usd.js';
import type { CostContext, CostEstimate } from '../cost-model.js';

/**
 * A Stripe Price known ahead of time, so that line items naming it are priced without a lookup. It
 * is taken as is: leave a Price with prices in other currencies (`currency_options`) unconfigured,
 * so that it is read from Stripe and priced in the currency the customer pays.
 */
export interface StripePrice {
  /** Price of one unit in the currency's minor unit (cents, yen, fils): `2000` is $20.00. */
  unitAmount: number;
  /** ISO 4217 currency, any case: `usd`. */
  currency: string;
}

/** Input of {@link estimateStripeLineItems}. */
export interface StripeLineItemsInput {
  /** The flat form body of a Checkout Session or Payment Link create call. */
  form: Readonly<Record<string, string>>;
  /** Prices known by id; others are read with `context.lookup('/v1/prices/:id')`. */
  prices: Readonly<Record<string, StripePrice>>;
  /** FX and lookups. */
  context: CostContext;
}

// Stripe leaves a Price's and a shipping rate's prices in other currencies out of its answer unless
// they are expanded: read without them, a session charged in yen would be priced at the base price.
const EXPAND_PRICE = 'expand%5B%5D=currency_options';
const EXPAND_SHIPPING_RATE = 'expand%5B%5D=fixed_amount.currency_options';

/** What a Stripe object id looks like; anything else is never put into a lookup path. */
const OBJECT_ID = /^[A-Za-z0-9_]{1,255}$/;

/** Stripe's documented default `adjustable_quantity[maximum]` for Checkout and Payment Links. */
const ADJUSTABLE_QUANTITY_DEFAULT_MAXIMUM = 99;

const minor = z.number().int().nullish().catch(undefined);
const text = z.string().nullish().catch(undefined);
const amountsSchema = z.object({
  unit_amount: minor,
  unit_amount_decimal: text,
  custom_unit_amount: z.object({ maximum: minor }).nullish().catch(undefined),
});
const priceSchema = amountsSchema.extend({
  currency: text,
  /** `recurring` for a price that charges every period (a subscription's), `one_time` otherwise. */
  type: text,
  recurring: z.unknown().optional(),
  /** The same price in other currencies, which a customer may be charged in instead. */
  currency_options: z.record(z.string(), amountsSchema).nullish().catch(undefined),
});
/** A parameter of an item or shipping list written without an index: `optional_items[][price]`. */
const UNINDEXED_LIST = /^(line_items|optional_items|shipping_options)\[(?!\d+\])/;
/** Why a recurring price is not priced. */
const RECURRING =
  'it charges every period after this call (by usage, if metered), which no estimate of this call can hold: not priced';

const shippingRateSchema = z.object({
  fixed_amount: z
    .object({ amount: minor, currency: text, currency_options: z.record(z.string(), z.unknown()).nullish() })
    .nullish()
    .catch(undefined),
});

/** An exact non-negative decimal amount of minor units: `digits / 10^scale`. */
interface MinorDecimal {
  digits: bigint;
  scale: number;
}

type Resolved<T> = { ok: true; value: T } | { ok: false; reason: string };

interface UnitPrice {
  unit: MinorDecimal;
  currency: string;
}

/**
 * Estimates the most a customer can pay through a Checkout Session or a Payment Link from its
 * create-call form: Σ unit price × quantity over `line_items[n]` and `optional_items[n]`, with
 * adjustable quantities at their maximum (Stripe's default maximum is 99), plus the most expensive
 * `shipping_options[n]`. A unit price comes from `price_data[unit_amount]` (or
 * `[unit_amount_decimal]`), from a configured {@link StripePrice}, or from a lookup of the Price
 * (`unit_amount`, else a pay-what-you-want `custom_unit_amount[maximum]`; read with its
 * `currency_options`, priced in the session's currency, else the dearest). Discounts are ignored
 * and tax is not added: automatic tax and `dynamic_tax_rates` are computed at checkout, and fixed
 * `tax_rates` show only in the response's `amount_total`, which can raise the settlement.
 *
 * @param input - The form, known prices and cost context.
 * @returns A known estimate, or `unknown` with the reason when a price cannot be determined.
 * @throws {UnknownCurrencyError} if an item's currency has no FX rate.
 * @example
 * ```ts
 * await estimateStripeLineItems({
 *   form: { 'line_items[0][price_data][currency]': 'usd', 'line_items[0][price_data][unit_amount]': '1500', 'line_items[0][quantity]': '2' },
 *   prices: {},
 *   context,
 * }); // { kind: 'known', micros: 30_000_000, … }
 * ```
 */
export async function estimateStripeLineItems({ form, prices, context }: StripeLineItemsInput): Promise<CostEstimate> {
  // `optional_items[][price]=…`: Rack reads a list without indexes too, as items this model,
  // which reads `[0]`, `[1]`…, would not count (a $990,000 optional item priced at nothing).
  const unindexed = Object.keys(form).find((key) => UNINDEXED_LIST.test(key));
  if (unindexed) {
    return {
      kind: 'unknown',
      reason: `\`${unindexed.slice(0, 60)}\` is not written with an index ([0], [1], …): not priced`,
      fallback: false,
    };
  }
  const items = collectIndexed(form, /^(line_items|optional_items)\[(\d+)\]/);
  if (!items.some((item) => item.startsWith('line_items'))) {
    return { kind: 'unknown', reason: 'no line_items in the request' };
  }
  // Stripe takes at most 100 items (Payment Links fewer); more is not a real call, only a way to
  // make Keybrake look up a price per item with the real key.
  if (items.length > MAX_ITEMS) {
    return { kind: 'unknown', reason: `more than ${MAX_ITEMS} line items: Stripe refuses them` };
  }
  const withPriceData = new Set<string>();
  for (const key of Object.keys(form)) {
    const match = /^((?:line_items|optional_items)\[\d+\])\[price_data\]/.exec(key);
    if (match?.[1]) withPriceData.add(match[1]);
  }
  const totals = new Map<string, bigint>();
  const lookups = new Map<string, Promise<unknown>>();
  const lookupOnce = (path: string) => {
    let pending = lookups.get(path);
    if (!pending) {
      pending = context.lookup(path).catch(() => undefined);
      lookups.set(path, pending);
    }
    return pending;
  };

  const resolvedItems = await Promise.all(
    items.map(async (prefix) => {
      const quantity = itemQuantity(form, prefix);
      if (!quantity.ok) return quantity;
      const price = await unitPrice(form, prefix, withPriceData.has(prefix), prices, lookupOnce, context);
      if (!price.ok) return price;
      return { ok: true as const, value: { ...price.value, quantity: quantity.value } };
    }),
  );
  for (const item of resolvedItems) {
    if (!item.ok) return { kind: 'unknown', reason: item.reason };
    const { unit, currency, quantity } = item.value;
    const total = ceilDiv(unit.digits * BigInt(quantity), 10n ** BigInt(unit.scale));
    totals.set(currency, (totals.get(currency) ?? 0n) + total);
  }

  let micros: MicroUsd = 0;
  for (const [currency, total] of totals) {
    if (total > BigInt(Number.MAX_SAFE_INTEGER)) return { kind: 'unknown', reason: 'line item total too large' };
    micros += context.fx.toMicroUsd(Number(total), currency);
  }
  const shipping = await maxShipping(form, context, lookupOnce);
  if (!shipping.ok) return { kind: 'unknown', reason: shipping.reason };
  micros += shipping.value;
  if (!Number.isSafeInteger(micros)) return { kind: 'unknown', reason: 'line item total too large' };
  const count = items.length;
  return {
    kind: 'known',
    micros,
    note: `${count} line item${count === 1 ? '' : 's'} at their largest quantities${shipping.value > 0 ? ', with the dearest shipping option' : ''}`,
  };
}

/** The most items (`line_items` and `optional_items`) a Stripe call takes. */
const MAX_ITEMS = 100;
/** The most shipping options a Checkout Session takes. */
const MAX_SHIPPING_OPTIONS = 5;

/** Distinct `group[n]` prefixes present in the form, in order. */
function collectIndexed(form: Readonly<Record<string, string>>, pattern: RegExp): string[] {
  const prefixes = new Set<string>();
  for (const key of Object.keys(form)) {
    const match = pattern.exec(key);
    if (match) prefixes.add(match[0]);
  }
  return [...prefixes];
}

function itemQuantity(form: Readonly<Record<string, string>>, prefix: string): Resolved<number> {
  const raw = form[`${prefix}[quantity]`];
  const quantity = raw === undefined ? 1 : parseMinorInteger(raw);
  if (quantity === undefined) return { ok: false, reason: `${prefix}[quantity] is not an integer` };
  // Off only when absent or "false": any other spelling Stripe might read as true counts as on.
  const enabled = form[`${prefix}[adjustable_quantity][enabled]`];
  if (enabled === undefined || enabled === 'false') return { ok: true, value: quantity };
  const rawMaximum = form[`${prefix}[adjustable_quantity][maximum]`];
  const maximum = rawMaximum === undefined ? ADJUSTABLE_QUANTITY_DEFAULT_MAXIMUM : parseMinorInteger(rawMaximum);
  if (maximum === undefined) return { ok: false, reason: `${prefix}[adjustable_quantity][maximum] is not an integer` };
  return { ok: true, value: Math.max(quantity, maximum) };
}

async function unitPrice(
  form: Readonly<Record<string, string>>,
  prefix: string,
  hasPriceData: boolean,
  prices: Readonly<Record<string, StripePrice>>,
  lookup: (path: string) => Promise<unknown>,
  context: CostContext,
): Promise<Resolved<UnitPrice>> {
  const dataPrefix = `${prefix}[price_data]`;
  if (hasPriceData) {
    const currency = form[`${dataPrefix}[currency]`] ?? form.currency;
    if (!currency) return { ok: false, reason: `${dataPrefix} has no currency` };
    const unit = parseMinorDecimal(form[`${dataPrefix}[unit_amount]`] ?? form[`${dataPrefix}[unit_amount_decimal]`]);
    if (!unit) return { ok: false, reason: `${dataPrefix} has no readable unit_amount` };
    if (Object.keys(form).some((key) => key.startsWith(`${dataPrefix}[recurring]`))) {
      return { ok: false, reason: `${dataPrefix} is recurring: ${RECURRING}` };
    }
    return { ok: true, value: { unit, currency: currency.toLowerCase() } };
  }
  const priceId = form[`${prefix}[price]`];
  if (!priceId) return { ok: false, reason: `${prefix} has neither price nor price_data` };
  if (!OBJECT_ID.test(priceId)) return { ok: false, reason: `${prefix}[price] is not a Stripe id` };
  const configured = Object.hasOwn(prices, priceId) ? prices[priceId] : undefined;
  if (configured) {
    return {
      ok: true,
      value: { unit: { digits: BigInt(configured.unitAmount), scale: 0 }, currency: configured.currency.toLowerCase() },
    };
  }
  const parsed = priceSchema.safeParse(await lookup(`/v1/prices/${encodeURIComponent(priceId)}?${EXPAND_PRICE}`));
  if (!parsed.success)
    return { ok: false, reason: `price ${priceId} is not configured and could not be read from Stripe` };
  const price = parsed.data;
  if ((price.type != null && price.type !== 'one_time') || price.recurring != null) {
    return { ok: false, reason: `price ${priceId} is recurring: ${RECURRING}` };
  }

  const unit = fixedUnit(price);
  if (!unit || !price.currency) {
    return {
      ok: false,
      reason: `price ${priceId} has no fixed unit_amount (tiered, or pay-what-you-want without a maximum)`,
    };
  }
  const base = { unit, currency: price.currency.toLowerCase() };
  const options = Object.entries(price.currency_options ?? {}).filter(([code]) => code.toLowerCase() !== base.currency);
  if (options.length === 0) return { ok: true, value: base };
  // A customer may be charged in any of the price's currencies: the session's, if it names one, else the dearest.
  const candidates: UnitPrice[] = [base];
  for (const [code, amounts] of options) {
    const optionUnit = fixedUnit(amounts);
    if (!optionUnit) return { ok: false, reason: `price ${priceId} has no fixed unit_amount in ${code}` };
    candidates.push({ unit: optionUnit, currency: code.toLowerCase() });
  }
  const wanted = form.currency?.toLowerCase();
  const named = wanted === undefined ? undefined : candidates.find((candidate) => candidate.currency === wanted);
  if (named) return { ok: true, value: named };
  let dearest: { price: UnitPrice; micros: number } | undefined;
  for (const candidate of candidates) {
    if (!context.fx.has(candidate.currency)) {
      return { ok: false, reason: `price ${priceId} can be charged in ${candidate.currency}, which has no FX rate` };
    }
    const micros = context.fx.toMicroUsd(
      Number(ceilDiv(candidate.unit.digits, 10n ** BigInt(candidate.unit.scale))),
      candidate.currency,
    );
    if (!dearest || micros > dearest.micros) dearest = { price: candidate, micros };
  }
  return { ok: true, value: (dearest as { price: UnitPrice }).price };
}

/** A price's fixed unit amount, else a pay-what-you-want maximum; `undefined` when it has neither. */
function fixedUnit(amounts: z.infer<typeof amountsSchema>): MinorDecimal | undefined {
  return (
    parseMinorDecimal(amounts.unit_amount ?? amounts.unit_amount_decimal ?? undefined) ??
    parseMinorDecimal(amounts.custom_unit_amount?.maximum ?? undefined)
  );
}

async function maxShipping(
  form: Readonly<Record<string, string>>,
  context: CostContext,
  lookup: (path: string) => Promise<unknown>,
): Promise<Resolved<MicroUsd>> {
  let most: MicroUsd = 0;
  const options = collectIndexed(form, /^shipping_options\[(\d+)\]/);
  // Stripe takes at most 5 shipping options.
  if (options.length > MAX_SHIPPING_OPTIONS) {
    return { ok: false, reason: `more than ${MAX_SHIPPING_OPTIONS} shipping options: Stripe refuses them` };
  }
  for (const prefix of options) {
    let amount: number | undefined;
    let currency: string | undefined;
    const rateId = form[`${prefix}[shipping_rate]`];
    if (rateId !== undefined) {
      if (!OBJECT_ID.test(rateId)) return { ok: false, reason: `${prefix}[shipping_rate] is not a Stripe id` };
      const parsed = shippingRateSchema.safeParse(
        await lookup(`/v1/shipping_rates/${encodeURIComponent(rateId)}?${EXPAND_SHIPPING_RATE}`),
      );
      const base = parsed.success ? parsed.data.fixed_amount?.currency?.toLowerCase() : undefined;
      const byCurrency = parsed.success ? Object.keys(parsed.data.fixed_amount?.currency_options ?? {}) : [];
      if (byCurrency.some((code) => code.toLowerCase() !== base)) {
        return { ok: false, reason: `shipping rate ${rateId} has prices by currency (currency_options): not priced` };
      }
      amount = parsed.success ? (parsed.data.fixed_amount?.amount ?? undefined) : undefined;
      currency = parsed.success ? (parsed.data.fixed_amount?.currency ?? undefined) : undefined;
    } else {
      // A price per currency is what a customer paying in that currency pays: not read, so not priced.
      const optionsPrefix = `${prefix}[shipping_rate_data][fixed_amount][currency_options]`;
      if (Object.keys(form).some((key) => key.startsWith(optionsPrefix))) {
        return { ok: false, reason: `${prefix} has prices by currency (currency_options): not priced` };
      }
      amount = parseMinorInteger(form[`${prefix}[shipping_rate_data][fixed_amount][amount]`]);
      currency = form[`${prefix}[shipping_rate_data][fixed_amount][currency]`];
    }
    if (amount === undefined || !currency) return { ok: false, reason: `${prefix} has no readable fixed amount` };
    most = Math.max(most, context.fx.toMicroUsd(amount, currency));
  }
  return { ok: true, value: most };
}

/**
 * Parses a non-negative integer of minor units (`"1099"`), or `undefined`.
 *
 * @example
 * ```ts
 * parseMinorInteger('1099'); // 1099
 * parseMinorInteger('10.5'); // undefined
 * ```
 */
export function parseMinorInteger(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,16}$/.test(raw.trim())) return undefined;
  const value = Number(raw.trim());
  return Number.isSafeInteger(value) ? value : undefined;
}

function parseMinorDecimal(raw: string | number | undefined): MinorDecimal | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'number')
    return Number.isSafeInteger(raw) && raw >= 0 ? { digits: BigInt(raw), scale: 0 } : undefined;
  const match = /^(\d{1,16})(?:\.(\d{1,12}))?$/.exec(raw.trim());
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  return { digits: BigInt(`${match[1]}${fraction}`), scale: fraction.length };
}

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}
