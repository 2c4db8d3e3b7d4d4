import { findKeybrakeError } from '@keybrake/core';
import type { ToolHooks } from '@mastra/core/tools';
import { findMemberStopped } from '../delegation/member-as-tool.js';
import { recordToolDenial, toolCallIdOf, toToolError } from './to-tool-error.js';

/** Options of {@link keybrakeHooks}. */
export interface KeybrakeHooksOptions {
  /**
   * The member name to report to the supervisor.
   * @default the agent's name (from Mastra's hook metadata)
   */
  member?: string | undefined;
}

/**
 * Agent-wide tool hooks (`new Agent({ hooks })`) that translate a Keybrake denial raised by any of
 * the agent's tools — including tools you did not wrap, such as MCP tools — into the tool error the
 * model reads (code, budget, spent, cap, attempted amount, retrying will not help). The
 * translation runs in `afterToolCall`, which sees the tool's error and may replace it.
 *
 * Mastra's hooks run before and after `execute`, not around it, so they cannot scope the audit
 * actor: vendor calls of a hook-only tool are audited with the member of its `member.fetch()` but
 * without tool name and tool call id, and only denials visible in the thrown error (a Keybrake
 * error or an official SDK's denial exception) are recognised. Wrap the tools you own with
 * {@link withKeybrake}; both together are fine.
 *
 * @param options - The member name to report to the supervisor.
 * @returns Hooks for `new Agent({ hooks })` or `agent.generate(..., { hooks })`.
 * @example
 * ```ts
 * const billing = new Agent({ id: 'billing', name: 'billing', instructions, model, tools: mcpTools, hooks: keybrakeHooks() });
 * ```
 */
export function keybrakeHooks(options: KeybrakeHooksOptions = {}): ToolHooks {
  return {
    afterToolCall({ toolName, context, metadata, error }) {
      const denial = error === undefined ? undefined : findKeybrakeError(error);
      if (!denial) return;
      const agentName = metadata?.agentName ?? metadata?.agentId;
      const member = options.member ?? (typeof agentName === 'string' ? agentName : 'unknown');
      const call = { member, tool: toolName, toolCallId: toolCallIdOf(context), context };
      // A member stopped (`memberAsTool`) is already worded for the model: passed on as it is, and
      // its denial recorded in this member's log too.
      const stopped = findMemberStopped(error);
      if (stopped) {
        recordToolDenial(stopped.cause, call);
        throw stopped;
      }
      throw toToolError(denial, call);
    },
  };
}
