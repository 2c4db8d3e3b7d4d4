import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { createVault, type VaultOptions } from '../vault/create-vault.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';

/** The acme vendor's real secret: must never leak into a response, log or audit record. */
export const ACME_SECRET = 'sk_acme_live_DO_NOT_LEAK_0123456789';

/** A vault fronting one test vendor, `acme`, that charges fixed prices per endpoint. */
export const createAcmeVault = ({
  baseUrl,
  prices,
  honorsIdempotencyKey = false,
  ...options
}: { baseUrl: string; prices: Record<string, number | string>; honorsIdempotencyKey?: boolean } & Omit<
  VaultOptions,
  'vendors' | 'secrets'
>) =>
  createVault({
    vendors: {
      acme: createBearerVendor({
        name: 'acme',
        baseUrl,
        requestIdHeader: 'request-id',
        honorsIdempotencyKey,
        costModel: createFixedPriceCostModel({ prices }),
      }),
    },
    secrets: { acme: ACME_SECRET },
    ...options,
  });
