import { createBearerVendor, createFixedPriceCostModel, toMicroUsd, type VendorDefinition } from '@keybrake/core';

/** What each test endpoint costs, USD: odd amounts, so a cap overrun by one micro-dollar would show. */
export const ACME_PRICES = {
  'POST /v1/charges/small': '2.500001',
  'POST /v1/charges/large': '4.199999',
  'POST /v1/charges/slow': '1.000003',
} as const;

/** The price of a path in micro-dollars, as the upstream bills it. */
export const priceOf = (method: string, path: string): number => {
  const price = ACME_PRICES[`${method} ${path}` as keyof typeof ACME_PRICES];
  return price === undefined ? 0 : toMicroUsd(price);
};

/**
 * The bearer test vendor every process of the multi-process tests configures identically.
 *
 * @example
 * ```ts
 * const vault = createVault({ vendors: { acme: createAcmeVendor() }, upstreams: { acme: upstream.url } });
 * ```
 */
export function createAcmeVendor(): VendorDefinition<string> {
  return createBearerVendor({
    name: 'acme',
    baseUrl: 'https://api.acme.invalid',
    requestIdHeader: 'request-id',
    costModel: createFixedPriceCostModel({ prices: { ...ACME_PRICES, 'GET /**': 0 } }),
  });
}

/** The vendor secret the workers hold. */
export const ACME_SECRET = 'sk_acme_test_multi_process_0123456789';
