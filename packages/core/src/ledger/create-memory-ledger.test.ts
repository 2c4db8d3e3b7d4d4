import { describeLedgerConformance } from '@keybrake/testkit/conformance';
import { createMemoryLedger } from './create-memory-ledger.js';

describeLedgerConformance('createMemoryLedger', { create: () => createMemoryLedger(), propertyRuns: 100 });
