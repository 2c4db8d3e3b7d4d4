import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditActor } from '../audit/audit-record.js';

const storage = new AsyncLocalStorage<AuditActor>();

/**
 * Runs `task` with an actor (member, tool, tool call) that every capped call made inside it —
 * including calls an official SDK makes — records in its audit record. Adapters wrap each tool
 * execution in it.
 *
 * @example
 * ```ts
 * await runWithActor({ member: 'billing', tool: 'charge', toolCallId: 'call_1' }, () => stripe.paymentIntents.create(...));
 * ```
 */
export function runWithActor<T>(actor: AuditActor, task: () => T): T {
  return storage.run({ ...storage.getStore(), ...actor }, task);
}

/** The actor of the current async context, if any. */
export function currentActor(): AuditActor | undefined {
  return storage.getStore();
}
