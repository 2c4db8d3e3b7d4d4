import { CapExceededError } from '../../errors/cap-exceeded-error.js';
import { EndpointNotAllowedError } from '../../errors/endpoint-not-allowed-error.js';
import { InvalidRequestError } from '../../errors/invalid-request-error.js';
import { KeyRevokedError } from '../../errors/key-revoked-error.js';
import { StorageError } from '../../errors/storage-error.js';
import { UnknownCostError } from '../../errors/unknown-cost-error.js';
import { UpstreamError } from '../../errors/upstream-error.js';

/**
 * One of each kind of denial a vault answers with, for the vendor error-shape tests.
 *
 * @example
 * ```ts
 * denials.cap.status; // 429
 * ```
 */
export const denials = {
  cap: new CapExceededError({
    keyId: 'key_child',
    label: 'billing/run-42',
    limitingKeyId: 'key_child',
    cap: 'total',
    capUsd: 50,
    spentUsd: 45,
    reservedUsd: 0,
    attemptedUsd: 10.99,
  }),
  dailyCap: new CapExceededError({
    keyId: 'key_child',
    limitingKeyId: 'key_parent',
    limitingLabel: 'team',
    cap: 'daily',
    capUsd: 5,
    spentUsd: 4.99,
    reservedUsd: 0,
    attemptedUsd: 0.02,
  }),
  endpoint: new EndpointNotAllowedError({ keyId: 'key_child', method: 'POST', path: '/v1/payouts' }),
  unknownCost: new UnknownCostError({ message: 'Keybrake denied this call: its cost cannot be determined.' }),
  revoked: new KeyRevokedError({ keyId: 'key_child', revokedKeyId: 'key_child' }),
  invalidRequest: new InvalidRequestError({
    status: 413,
    message: 'Keybrake denied this call: the body is too large.',
  }),
  storage: new StorageError({ message: 'Keybrake denied this call: the ledger is unavailable.' }),
  upstream: new UpstreamError({ status: 502, outcomeUnknown: true, message: 'The upstream did not answer.' }),
} as const;
