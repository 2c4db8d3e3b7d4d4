import { type AuditRecord, fromMicroUsd } from '@keybrake/core';
import type { WireAuditRecord } from './wire-types.js';

/**
 * Renders one audit record for the wire.
 *
 * @example
 * ```ts
 * toWireAuditRecord(record).actual_usd;
 * ```
 */
export function toWireAuditRecord(record: AuditRecord): WireAuditRecord {
  return {
    id: record.id,
    time: record.time,
    key_id: record.keyId ?? null,
    root_id: record.rootKeyId ?? null,
    label: record.label ?? null,
    label_chain: record.labelChain,
    vendor: record.vendor ?? null,
    method: record.method,
    path: record.path,
    decision: record.decision,
    reason: record.reason ?? null,
    outcome: record.outcome ?? null,
    estimated_usd: fromMicroUsd(record.estimatedMicros),
    actual_usd: fromMicroUsd(record.actualMicros),
    vendor_status: record.vendorStatus ?? null,
    vendor_request_id: record.vendorRequestId ?? null,
    idempotency_key: record.idempotencyKey ?? null,
    latency_ms: record.latencyMs,
    actor: record.actor
      ? {
          member: record.actor.member ?? null,
          tool: record.actor.tool ?? null,
          tool_call_id: record.actor.toolCallId ?? null,
        }
      : null,
    note: record.note ?? null,
    revision: record.revision ?? 0,
  };
}
