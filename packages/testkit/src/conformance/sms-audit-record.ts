import type { AuditRecord } from '@keybrake/core';

/** An allowed, settled Twilio SMS as the vault audits it (one segment, $0.0083): the suites' record. */
export function smsAuditRecord(fields: Pick<AuditRecord, 'id' | 'time' | 'keyId'> & Partial<AuditRecord>): AuditRecord {
  return {
    labelChain: ['team/sess/sms', 'team/sess'],
    vendor: 'twilio',
    method: 'POST',
    path: '/2010-04-01/Accounts/AC1/Messages.json',
    decision: 'allowed',
    outcome: 'settled',
    estimatedMicros: 8_300,
    actualMicros: 8_300,
    latencyMs: 12,
    ...fields,
  };
}
