import type { CostModel } from '../costs/cost-model.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import type { VendorDefinition } from './vendor-definition.js';

/** Options of {@link createBearerVendor}. */
export interface BearerVendorOptions {
  /** Vendor name used in policies and routes. */
  name: string;
  /**
   * The real API's origin, `https://api.acme.test`: the paths the allow-list and the cost model
   * see are the vendor's own, as its SDK sends them (`/v1/charges`). A path here is put before
   * them when forwarding (a gateway in front of the vendor), so do not repeat the part of the path
   * the SDK sends itself (`https://api.openai.com`, not `https://api.openai.com/v1`).
   */
  baseUrl: string;
  costModel: CostModel;
  /** Response header with the vendor's request id. */
  requestIdHeader?: string;
  /** Whether the vendor replays a repeated `Idempotency-Key` (then a retry is counted once). @default false */
  honorsIdempotencyKey?: boolean;
  /** The response header by which the vendor marks an answer as a replay (see `VendorDefinition.replayHeader`). */
  replayHeader?: string;
}

/**
 * Defines a vendor that authenticates with `Authorization: Bearer <secret>` and answers errors as
 * `{ "error": { "code", "message", "type": "keybrake_error" } }`, with `x-should-retry` saying
 * whether a retry can help — a starting point for adding your own vendors.
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
    replayHeader: options.replayHeader,
    parseSecret(secret) {
      if (typeof secret !== 'string' || secret.length === 0) {
        throw new InvalidPolicyError({ message: `The ${options.name} secret must be a non-empty string.` });
      }
      // A trailing newline from an env file would fail every call as "the vendor could not be reached".
      if (!/^[\x21-\x7e]+$/.test(secret)) {
        throw new InvalidPolicyError({
          message: `The ${options.name} secret must be printable ASCII without spaces (a trailing newline from an env file?).`,
        });
      }
      return secret;
    },
    authorize(request, secret) {
      request.headers.authorization = `Bearer ${secret}`;
      return { path: request.path };
    },
    errorResponse: (error: KeybrakeError) => ({
      status: error.status,
      // Stainless-generated SDKs (OpenAI's, Anthropic's) retry a 429 unless told not to.
      headers: { 'content-type': 'application/json', 'x-should-retry': String(error.retryable) },
      body: JSON.stringify({ error: { type: 'keybrake_error', ...error.toJSON() } }),
    }),
  };
}
