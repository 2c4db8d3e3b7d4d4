import { redactVaultKeys } from '../keys/vault-key-format.js';

/**
 * The most characters of one client-controlled field (method, `Idempotency-Key`, an actor field)
 * an audit record keeps: every sink keeps many records (the memory sink 100,000), so one call must
 * not write megabytes into each.
 */
export const AUDIT_TEXT_MAX_LENGTH = 200;

/**
 * Client-controlled text as audited or logged: a vault key in it redacted, then cut to
 * {@link AUDIT_TEXT_MAX_LENGTH} characters. Redacting first means a cut never leaves a piece of a
 * vault key too short to be recognised as one.
 *
 * @param text - The text the client sent.
 * @returns The text to audit, at most {@link AUDIT_TEXT_MAX_LENGTH} characters.
 * @example
 * ```ts
 * toAuditText('x'.repeat(1_000_000)).length; // 200
 * ```
 */
export function toAuditText(text: string): string {
  return redactVaultKeys(text).slice(0, AUDIT_TEXT_MAX_LENGTH);
}
