import type { CostModel } from '../costs/cost-model.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import type { VendorDefinition } from './vendor-definition.js';

/** Options of {@link createBearerVendor}. */
export interface BearerVendorOptions {
  /** Vendor name used in policies and routes. */
  name: string;
  /** The real API base URL. */
  baseUrl: string;
  costModel: CostModel;
  /** Response header with the vendor's request id. */
  requestIdHeader?: string;
  /** Whether the vendor replays a repeated `Idempotency-Key` (then a retry is counted once). @default false */
  honorsIdempotencyKey?: boolean;
}

/**
 * Defines a vendor that authenticates with `Authorization: Bearer <secret>` and answers errors as
 * `{ "error": { "code", "message", "type": "keybrake_error" } }` — a starting point for adding
 * your own vendors.
 *
 * @example
 * ```ts
 * const acme = createBearerVendor({ name: 'acme', baseUrl: 'https://api.acme.test', costModel });
 * const vault = createVault({ vendors: { acme }, secrets: { acme: process.env.ACME_KEY } });
 * ```
 */
export function createBearerVendor(options: BearerVendorOptions): VendorDefinition<string> {
  return {
    name: options.name,
    baseUrl: options.baseUrl,
    costModel: options.costModel,
    requestIdHeader: options.requestIdHeader,
    honorsIdempotencyKey: options.honorsIdempotencyKey ?? false,
    parseSecret(secret) {
      if (typeof secret !== 'string' || secret.length === 0) {
        throw new InvalidPolicyError({ message: `The ${options.name} secret must be a non-empty string.` });
      }
      return secret;
    },
    authorize(request, secret) {
      request.headers.authorization = `Bearer ${secret}`;
      return { path: request.path };
    },
    errorResponse: (error: KeybrakeError) => ({
      status: error.status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: { type: 'keybrake_error', ...error.toJSON() } }),
    }),
  };
}
