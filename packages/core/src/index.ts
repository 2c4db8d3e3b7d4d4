export type {
  AuditActor,
  AuditMemberTotals,
  AuditQuery,
  AuditQueryResult,
  AuditRecord,
  AuditSink,
  AuditTotals,
} from './audit/audit-record.js';
export {
  type AuditWriteQueue,
  type AuditWriteQueueOptions,
  createAuditWriteQueue,
} from './audit/create-audit-write-queue.js';
export {
  createJsonlAuditSink,
  type JsonlAuditSinkOptions,
  readJsonlAuditRecords,
} from './audit/create-jsonl-audit-sink.js';
export { createMemoryAuditSink, type MemoryAuditSinkOptions } from './audit/create-memory-audit-sink.js';
export { parseAuditTime } from './audit/parse-audit-time.js';
export { queryAuditRecords } from './audit/query-audit-records.js';
export { AUDIT_TEXT_MAX_LENGTH, toAuditText } from './audit/to-audit-text.js';
export type {
  CostContext,
  CostEstimate,
  CostModel,
  CostReconciliation,
  CostRequest,
  CostResponse,
  CostSettlement,
} from './costs/cost-model.js';
export { createFixedPriceCostModel, type FixedPriceCostModelOptions } from './costs/create-fixed-price-cost-model.js';
export {
  countResendRecipients,
  createResendCostModel,
  type ResendCostOptions,
} from './costs/resend/resend-cost-model.js';
export {
  estimateStripeLineItems,
  parseMinorInteger,
  type StripePrice,
} from './costs/stripe/estimate-stripe-line-items.js';
export { parseStripeObject, type StripeObject } from './costs/stripe/parse-stripe-object.js';
export { createStripeCostModel, type StripeCostOptions } from './costs/stripe/stripe-cost-model.js';
export { countSmsSegments, type SmsSegmentOptions, type SmsSegments } from './costs/twilio/count-sms-segments.js';
export { parseTwilioPrice } from './costs/twilio/parse-twilio-price.js';
export {
  createTwilioCostModel,
  type TwilioCostModel,
  type TwilioCostOptions,
} from './costs/twilio/twilio-cost-model.js';
export { CapExceededError, type CapExceededErrorOptions, type CapKind } from './errors/cap-exceeded-error.js';
export { EndpointNotAllowedError, type EndpointNotAllowedErrorOptions } from './errors/endpoint-not-allowed-error.js';
export { findKeybrakeError, keybrakeErrorFromJSON } from './errors/find-keybrake-error.js';
export { InvalidKeyError } from './errors/invalid-key-error.js';
export { InvalidPolicyError } from './errors/invalid-policy-error.js';
export { InvalidRequestError } from './errors/invalid-request-error.js';
export { KeyExpiredError, type KeyExpiredErrorOptions } from './errors/key-expired-error.js';
export { KeyRevokedError, type KeyRevokedErrorOptions } from './errors/key-revoked-error.js';
export {
  isPolicyDenial,
  KeybrakeError,
  type KeybrakeErrorCode,
  type KeybrakeErrorOptions,
} from './errors/keybrake-error.js';
export { StorageError } from './errors/storage-error.js';
export { UnknownCostError } from './errors/unknown-cost-error.js';
export { UnknownCurrencyError } from './errors/unknown-currency-error.js';
export { UnknownVendorError } from './errors/unknown-vendor-error.js';
export { UpstreamError } from './errors/upstream-error.js';
export {
  currentActor,
  type DelegationReport,
  noteMemberWentOn,
  runDelegation,
  runWithActor,
} from './fetch/actor-context.js';
export { type CappedFetchOptions, createCappedFetch } from './fetch/create-capped-fetch.js';
export {
  formatDenialForModel,
  formatDenialWentOn,
  type RunCappedToolOptions,
  runCappedTool,
} from './fetch/run-capped-tool.js';
export type { IssuedKey, IssueKeyOptions } from './keys/issue-key-options.js';
export type { KeyRecord } from './keys/key-record.js';
export type { CapStatus, KeyStatus } from './keys/key-status.js';
export { parseDuration } from './keys/parse-duration.js';
export {
  type GeneratedVaultKey,
  generateVaultKey,
  hashVaultKey,
  type KeyMode,
  looksLikeVaultKey,
  type ParsedVaultKey,
  parseVaultKey,
  redactVaultKeys,
  toKeyId,
} from './keys/vault-key-format.js';
export { createMemoryLedger } from './ledger/create-memory-ledger.js';
export {
  DAY_MS,
  EXPIRED_KEY_RETENTION_MS,
  IDEMPOTENCY_WINDOW_MS,
  type Ledger,
  type LedgerBalance,
  type LedgerLimit,
  type RepriceRequest,
  type ReserveDenial,
  type ReserveRequest,
  type ReserveResult,
  type SettleRequest,
  utcDay,
} from './ledger/ledger.js';
export { currencyDecimals, THREE_DECIMAL_CURRENCIES, ZERO_DECIMAL_CURRENCIES } from './money/currencies.js';
export { createFxTable, type FxRates, type FxTable, parseFxRates } from './money/fx-table.js';
export { formatUsd, fromMicroUsd, MICROS_PER_USD, type MicroUsd, toMicroUsd } from './money/micro-usd.js';
export {
  type EndpointPattern,
  matchesEndpoint,
  parseEndpointPattern,
  patternIsCoveredBy,
} from './paths/endpoint-matcher.js';
export { type NormalizedPath, normalizePath } from './paths/normalize-path.js';
export {
  createTwilioHttpClient,
  type TwilioHttpClient,
  type TwilioHttpClientOptions,
  type TwilioHttpRequestOptions,
  type TwilioHttpResponse,
} from './sdks/create-twilio-http-client.js';
export { createKeyvKeyStore, type KeyvKeyStoreOptions } from './storage/create-keyv-key-store.js';
export { createMemoryKeyStore, type MemoryKeyStoreOptions } from './storage/create-memory-key-store.js';
export type { ChainReadOptions, KeyStore } from './storage/key-store.js';
export {
  type MemberKey,
  openTeamSession,
  type TeamMember,
  type TeamSession,
} from './team/open-team-session.js';
export type { TeamMemberPlan, TeamPlan } from './team/team-plan.js';
export {
  createVault,
  type Vault,
  type VaultOptions,
  type VaultSecrets,
} from './vault/create-vault.js';
export { readVaultKey } from './vault/read-vault-key.js';
export { toHeaders } from './vault/to-headers.js';
export type { ResponseHeaderRecord, VaultRequest, VaultResponse } from './vault/vault-request.js';
export { type BuiltinVendorOptions, builtinVendors } from './vendors/builtin-vendors.js';
export { type BearerVendorOptions, createBearerVendor } from './vendors/create-bearer-vendor.js';
export { resendErrorResponse, resendVendor } from './vendors/resend-vendor.js';
export { stripeErrorResponse, stripeVendor } from './vendors/stripe-vendor.js';
export { rewriteAccountSid, type TwilioSecret, twilioErrorResponse, twilioVendor } from './vendors/twilio-vendor.js';
export type { VendorDefinition, VendorErrorResponse } from './vendors/vendor-definition.js';
export { VERSION } from './version.js';
