import type { DelegationConfig } from '@mastra/core/agent';
import {
  type DenialLog,
  describeDenialWentOn,
  describeMemberDenials,
  memberWasStopped,
  openDenialLog,
} from './denial-log.js';

/** The most delegations whose logs are kept between their start and completion. */
const MAX_OPEN_DELEGATIONS = 10_000;

/**
 * Delegation hooks for a Mastra supervisor (`new Agent({ agents })`) that carry a member's
 * Keybrake denial to the supervisor's model. Mastra shows the supervisor only the member's final
 * text, even when the member's tools failed; with these hooks, when a member was stopped by
 * Keybrake, the `agent-<member>` tool result the supervisor reads is the member's text followed by
 * `Keybrake stopped member "<member>" (tool "<tool>", N calls denied).` and the denial as the
 * member read it: code, message with budget, spent and attempted amount, and the structured JSON
 * (`code`, `label`, `capUsd`, `spentUsd`, …).
 *
 * `onDelegationStart` opens a denial log in the member's request context (a shallow copy of the
 * supervisor's, so the log object is shared with the member's tools); tools wrapped with
 * `withKeybrake` or covered by `keybrakeHooks` record their denials in it; `onDelegationComplete`
 * replaces the result text (`resultText`). Your own delegation hooks run first.
 *
 * @param delegation - Your own delegation config, to compose with.
 * @returns A delegation config for `supervisor.generate(..., { delegation })` or `defaultOptions`.
 * @example
 * ```ts
 * const supervisor = new Agent({
 *   id: 'supervisor', name: 'supervisor', instructions, model,
 *   agents: { billing, notifications },
 *   defaultOptions: { delegation: keybrakeDelegation() },
 * });
 * ```
 */
export function keybrakeDelegation(delegation: DelegationConfig = {}): DelegationConfig {
  // One config serves every concurrent run of the supervisor, and tool call ids are unique only
  // within a response (some providers number them `call_0`, `call_1`…): logs are kept per run.
  const logs = new Map<string, { toolCallId: string; log: DenialLog }>();
  const keyOf = (context: { runId: string; toolCallId: string }) => `${context.runId}\u0000${context.toolCallId}`;
  const take = (context: { runId: string; toolCallId: string }): DenialLog | undefined => {
    let key = keyOf(context);
    if (!logs.has(key)) {
      // A run id Mastra made up for one hook only: the tool call id alone, if no other run has it.
      const matches = [...logs].filter(([, entry]) => entry.toolCallId === context.toolCallId);
      if (matches.length !== 1) return undefined;
      key = matches[0]?.[0] ?? key;
    }
    const entry = logs.get(key);
    logs.delete(key);
    return entry?.log;
  };
  return {
    ...delegation,
    async onDelegationStart(context) {
      const result = await delegation.onDelegationStart?.(context);
      if (result?.proceed !== false) {
        // A delegation resumed after a pause (a tool approval) starts again under the same run and
        // tool call: it goes on with its log, so a denial from before the pause is still reported.
        const key = keyOf(context);
        const earlier = logs.get(key)?.log;
        logs.delete(key);
        // A delegation paused and never resumed leaves its log behind: keep the newest only.
        if (logs.size >= MAX_OPEN_DELEGATIONS) logs.delete(logs.keys().next().value as string);
        logs.set(key, { toolCallId: context.toolCallId, log: openDenialLog(context.requestContext, earlier) });
      }
      return result;
    },
    async onDelegationComplete(context) {
      const result = await delegation.onDelegationComplete?.(context);
      const log = take(context);
      if (!log || log.denials.length === 0) return result;
      const text = (result?.resultText ?? context.result.text).trim();
      // A member that went on after its denial was not stopped, but the supervisor still reads it:
      // any later tool call counts as going on, a free one included. (Mastra's hooks see no step of
      // the member's run: a call that started after the denial counts, even of the same step.)
      const denial = memberWasStopped(log) ? describeMemberDenials(log.denials) : describeDenialWentOn(log.denials);
      return { ...result, resultText: text ? `${text}\n\n${denial}` : denial };
    },
  };
}
