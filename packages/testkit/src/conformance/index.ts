// `@keybrake/testkit/conformance`: the suites every Ledger, KeyStore and AuditSink must pass. Apart from the
// package root because they need vitest, which the fake upstreams do not.

export {
  type AuditSinkConformanceOptions,
  describeAuditSinkConformance,
} from './describe-audit-sink-conformance.js';
export {
  describeKeyStoreConformance,
  type KeyStoreConformanceOptions,
} from './describe-key-store-conformance.js';
export { describeLedgerConformance, type LedgerConformanceOptions } from './describe-ledger-conformance.js';
