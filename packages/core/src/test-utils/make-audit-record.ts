import type { AuditRecord } from '../audit/audit-record.js';

/** An allowed, settled $5 Stripe call of member `billing`; `r7` is timed 7 s after noon, 2026-11-26. */
export const makeAuditRecord = (id: string, overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  id,
  time: new Date(Date.UTC(2026, 10, 26, 12, 0, Number(id.replace(/\D/g, '')) || 0)).toISOString(),
  keyId: 'kbk_member',
  rootKeyId: 'kbk_session',
  label: 'team/sess/billing',
  labelChain: ['team/sess/billing', 'team/sess'],
  vendor: 'stripe',
  method: 'POST',
  path: '/v1/payment_intents',
  decision: 'allowed',
  outcome: 'settled',
  estimatedMicros: 5_000_000,
  actualMicros: 5_000_000,
  latencyMs: 1,
  actor: { member: 'billing' },
  ...overrides,
});
