import { createResendCostModel, type ResendCostOptions } from '../costs/resend/resend-cost-model.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import type { VendorDefinition, VendorErrorResponse } from './vendor-definition.js';

/**
 * The Resend vendor: `https://api.resend.com`, authorised with `Authorization: Bearer re_…`,
 * priced by {@link createResendCostModel}. Denials are answered in Resend's error shape; resend-node
 * returns the parsed body of any non-2xx answer as `{ data: null, error }`, so `error` carries
 * `statusCode`, `name`, `message` (starting with the Keybrake code) and `keybrake` (the error's JSON).
 *
 * @param options - Cost-model options; see {@link ResendCostOptions}.
 * @returns The vendor definition; its secret is a Resend API key.
 * @example
 * ```ts
 * const vault = createVault({ vendors: { resend: resendVendor({ perEmailUsd: '0.001' }) }, secrets: { resend: 're_…' } });
 * ```
 */
export function resendVendor(options: ResendCostOptions = {}): VendorDefinition<string> {
  return {
    name: 'resend',
    baseUrl: 'https://api.resend.com',
    costModel: createResendCostModel(options),
    // Resend deduplicates sends only; any other POST with the same key acts again.
    honorsIdempotencyKey: (method, path) => method === 'POST' && (path === '/emails' || path === '/emails/batch'),
    parseSecret(secret) {
      if (typeof secret !== 'string' || !/^re_[A-Za-z0-9_]+$/.test(secret)) {
        throw new InvalidPolicyError({ message: 'Invalid Resend secret: expected an API key starting with re_.' });
      }
      return secret;
    },
    authorize(request, secret) {
      request.headers.authorization = `Bearer ${secret}`;
      return { path: request.path };
    },
    refuse: refuseResendCredentials,
    errorResponse: resendErrorResponse,
  };
}

/**
 * Resend endpoints a vault never forwards: API keys (`/api-keys`, `/api-keys/{id}`). Creating one
 * answers with the new key's token, a real Resend credential with no cap; deleting one could remove
 * the vault's own. Matched in any letter case.
 *
 * @returns Why the call is refused, or `undefined`.
 */
export function refuseResendCredentials(_method: string, path: string): string | undefined {
  const first = path.split('/')[1] ?? '';
  return first.toLowerCase() === 'api-keys' ? 'Resend API keys are credentials' : undefined;
}

/** Error names Resend documents (resend-node types `error.name` as this union). */
type ResendErrorName =
  | 'daily_quota_exceeded'
  | 'monthly_quota_exceeded'
  | 'invalid_api_key'
  | 'restricted_api_key'
  | 'invalid_access'
  | 'validation_error'
  | 'application_error';

function resendErrorName(error: KeybrakeError): ResendErrorName {
  switch (error.code) {
    case 'KEYBRAKE_CAP_EXCEEDED':
      // A quota name, not `rate_limit_exceeded`: waiting a second and retrying will not help.
      return error.toJSON().cap === 'daily' ? 'daily_quota_exceeded' : 'monthly_quota_exceeded';
    case 'KEYBRAKE_ENDPOINT_NOT_ALLOWED':
      return 'restricted_api_key';
    case 'KEYBRAKE_KEY_EXPIRED':
    case 'KEYBRAKE_KEY_REVOKED':
    case 'KEYBRAKE_INVALID_KEY':
      return 'invalid_api_key';
    default:
      if (error.status === 403) return 'invalid_access';
      if (error.status >= 400 && error.status < 500) return 'validation_error';
      return 'application_error';
  }
}

/**
 * Renders a Keybrake denial as a Resend API error: `{ statusCode, name, message, keybrake }`.
 * `name` is one of Resend's own names (a cap is `daily_quota_exceeded` or
 * `monthly_quota_exceeded`, never `rate_limit_exceeded`); `message` starts with the Keybrake code.
 *
 * @param error - The denial.
 * @returns Status, headers and JSON body.
 * @example
 * ```ts
 * JSON.parse(resendErrorResponse(capError).body).message; // 'KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: …'
 * ```
 */
export function resendErrorResponse(error: KeybrakeError): VendorErrorResponse {
  return {
    status: error.status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      statusCode: error.status,
      name: resendErrorName(error),
      message: `${error.code}: ${error.message}`,
      keybrake: error.toJSON(),
    }),
  };
}
