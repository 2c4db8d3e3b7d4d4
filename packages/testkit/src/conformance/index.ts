// `@keybrake/testkit/conformance`: the suites every Ledger and KeyStore must pass. Apart from the
// package root because they need vitest, which the fake upstreams do not.
export {
  describeKeyStoreConformance,
  type KeyStoreConformanceOptions,
} from './describe-key-store-conformance.js';
export { describeLedgerConformance, type LedgerConformanceOptions } from './describe-ledger-conformance.js';
