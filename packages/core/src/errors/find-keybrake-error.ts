import { CapExceededError, type CapKind } from './cap-exceeded-error.js';
import { EndpointNotAllowedError } from './endpoint-not-allowed-error.js';
import { InvalidKeyError } from './invalid-key-error.js';
import { InvalidPolicyError } from './invalid-policy-error.js';
import { InvalidRequestError } from './invalid-request-error.js';
import { KeyExpiredError } from './key-expired-error.js';
import { KeyRevokedError } from './key-revoked-error.js';
import { KeybrakeError, type KeybrakeErrorCode } from './keybrake-error.js';
import { StorageError } from './storage-error.js';
import { UnknownCostError } from './unknown-cost-error.js';
import { UnknownCurrencyError } from './unknown-currency-error.js';
import { UnknownVendorError } from './unknown-vendor-error.js';
import { UpstreamError } from './upstream-error.js';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null;
const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
const num = (value: unknown) => (typeof value === 'number' ? value : 0);

/**
 * Rebuilds a typed Keybrake error from its JSON form (`error.toJSON()`, as carried in the body of
 * a denial), e.g. on the far side of the proxy.
 *
 * @returns The error, or `undefined` if `json` is not a Keybrake error.
 * @example
 * ```ts
 * const error = keybrakeErrorFromJSON(body.error.keybrake);
 * ```
 */
export function keybrakeErrorFromJSON(json: unknown): KeybrakeError | undefined {
  if (!isObject(json)) return undefined;
  const code = text(json.code) as KeybrakeErrorCode | undefined;
  const message = text(json.message) ?? 'Keybrake denied this call.';
  if (!code?.startsWith('KEYBRAKE_')) return undefined;
  switch (code) {
    case 'KEYBRAKE_CAP_EXCEEDED':
      return new CapExceededError({
        keyId: text(json.keyId) ?? '',
        label: text(json.label),
        limitingKeyId: text(json.limitingKeyId) ?? text(json.keyId) ?? '',
        limitingLabel: text(json.limitingLabel),
        cap: (text(json.cap) ?? 'total') as CapKind,
        capUsd: num(json.capUsd),
        spentUsd: num(json.spentUsd),
        reservedUsd: num(json.reservedUsd),
        attemptedUsd: num(json.attemptedUsd),
      });
    case 'KEYBRAKE_ENDPOINT_NOT_ALLOWED':
      return new EndpointNotAllowedError({
        keyId: text(json.keyId) ?? '',
        label: text(json.label),
        method: text(json.method) ?? '',
        path: text(json.path) ?? '',
      });
    case 'KEYBRAKE_KEY_EXPIRED':
      return new KeyExpiredError({
        keyId: text(json.keyId) ?? '',
        label: text(json.label),
        expiredKeyId: text(json.expiredKeyId) ?? '',
        expiresAt: text(json.expiresAt) ?? '',
      });
    case 'KEYBRAKE_KEY_REVOKED':
      return new KeyRevokedError({
        keyId: text(json.keyId) ?? '',
        label: text(json.label),
        revokedKeyId: text(json.revokedKeyId) ?? '',
      });
    case 'KEYBRAKE_UNKNOWN_CURRENCY':
      return new UnknownCurrencyError({ currency: text(json.currency) ?? '' });
    case 'KEYBRAKE_UPSTREAM_ERROR':
      return new UpstreamError({ message, outcomeUnknown: json.outcomeUnknown === true });
    case 'KEYBRAKE_INVALID_KEY':
      return new InvalidKeyError({ message });
    case 'KEYBRAKE_INVALID_POLICY':
      return new InvalidPolicyError({ message });
    case 'KEYBRAKE_INVALID_REQUEST':
      return new InvalidRequestError({ message, retryable: json.retryable === true });
    case 'KEYBRAKE_UNKNOWN_COST':
      return new UnknownCostError({ message });
    case 'KEYBRAKE_UNKNOWN_VENDOR':
      return new UnknownVendorError({ message });
    case 'KEYBRAKE_STORAGE_ERROR':
      return new StorageError({ message });
    default:
      return undefined;
  }
}

/** Keybrake's denial bodies are small; a larger body is not parsed. */
const MAX_PARSED_BODY = 64 * 1024;

/**
 * Parses an error's raw response body (the AI SDK's `APICallError.responseBody`) only if it looks
 * like a Keybrake denial: a JSON object naming a `KEYBRAKE_` code. Never throws.
 */
function parseDenialBody(body: unknown): unknown {
  if (typeof body !== 'string' || body.length > MAX_PARSED_BODY || !body.includes('"KEYBRAKE_')) return undefined;
  if (!body.trimStart().startsWith('{')) return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * Finds the Keybrake denial behind an error: a `KeybrakeError` itself, or an official SDK's error
 * raised by a Keybrake denial — `StripeRateLimitError` (its `raw.keybrake`), Twilio's
 * `RestException` (its `details.keybrake`), a Resend `error` object, the AI SDK's `APICallError`
 * (its JSON `responseBody`) — or any object carrying Keybrake's JSON, searched a few levels deep
 * (`cause`, `raw`, `details`, `error`, `body`, `responseBody`, `keybrake`).
 *
 * @returns The typed error, or `undefined` if the error is not a Keybrake denial.
 * @example
 * ```ts
 * try { await stripe.paymentIntents.create(params); } catch (error) {
 *   const denial = findKeybrakeError(error);
 *   if (denial?.code === 'KEYBRAKE_CAP_EXCEEDED') console.log(denial.message);
 * }
 * ```
 */
export function findKeybrakeError(error: unknown): KeybrakeError | undefined {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): KeybrakeError | undefined => {
    if (!isObject(value) || depth > 4 || seen.has(value)) return undefined;
    seen.add(value);
    if (KeybrakeError.isInstance(value)) return value;
    const direct = isObject(value.keybrake) ? keybrakeErrorFromJSON(value.keybrake) : undefined;
    if (direct) return direct;
    const fromBody = visit(parseDenialBody(value.responseBody), depth + 1);
    if (fromBody) return fromBody;
    for (const field of ['raw', 'details', 'error', 'cause', 'body']) {
      const found = visit(value[field], depth + 1);
      if (found) return found;
    }
    return keybrakeErrorFromJSON(value);
  };
  return visit(error, 0);
}
