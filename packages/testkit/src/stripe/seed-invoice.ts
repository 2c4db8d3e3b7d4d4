import { type StripeStore, stripeId } from './create-stripe-store.js';
import { type StripeObject, stripeFixture } from './stripe-fixture.js';

/**
 * An invoice to pre-seed into the fake Stripe, so `POST /v1/invoices/:id/pay` has something to pay.
 *
 * @example
 * ```ts
 * const invoice = fake.seedInvoice({ amount_remaining: 4200, currency: 'usd' });
 * ```
 */
export interface SeedInvoiceOptions {
  /** Amount left to pay, in the currency's minor unit; also the invoice total. */
  amount_remaining: number;
  /**
   * Three-letter currency code.
   * @default 'usd'
   */
  currency?: string;
  /**
   * Customer id.
   * @default a new `cus_...` id
   */
  customer?: string;
  /**
   * Invoice status; `pay` finalizes a draft first, as Stripe does.
   * @default 'open'
   */
  status?: 'draft' | 'open';
  /**
   * Invoice id.
   * @default a new `in_...` id
   */
  id?: string;
}

/**
 * Stores an invoice built from Stripe's example invoice with the given amount and currency.
 *
 * @param store - The fake's object store.
 * @param options - Amount, currency and optional customer, status and id.
 * @param now - Unix time in seconds for `created`.
 * @returns The stored (mutable) invoice.
 * @example
 * ```ts
 * seedInvoice(store, { amount_remaining: 1000 }, Math.floor(Date.now() / 1000));
 * ```
 */
export function seedInvoice(store: StripeStore, options: SeedInvoiceOptions, now: number): StripeObject {
  const { amount_remaining: amount, currency = 'usd', customer = stripeId('cus', 14), status = 'open' } = options;
  const id = options.id ?? stripeId('in');
  const fixture = stripeFixture('invoice');
  const lines = fixture.lines as { data: Record<string, unknown>[] };
  const line = { ...lines.data[0], id: stripeId('il'), amount, currency, invoice: id, subtotal: amount };
  return store.insert({
    ...fixture,
    id,
    object: 'invoice',
    amount_due: amount,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: amount,
    created: now,
    currency,
    customer,
    effective_at: status === 'open' ? now : null,
    from_invoice: null,
    last_finalization_error: null,
    lines: { ...lines, data: [line], url: `/v1/invoices/${id}/lines` },
    number: status === 'open' ? `${id.slice(-8).toUpperCase()}-0001` : null,
    parent: null,
    shipping_cost: null,
    status,
    status_transitions: {
      finalized_at: status === 'open' ? now : null,
      marked_uncollectible_at: null,
      paid_at: null,
      voided_at: null,
    },
    subtotal: amount,
    subtotal_excluding_tax: amount,
    total: amount,
    total_excluding_tax: amount,
  });
}
