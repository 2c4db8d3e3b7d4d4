import { KeybrakeError, runCappedTool } from '@keybrake/core';
import { createMiddleware } from 'langchain';
import { isGraphSignal } from './is-graph-signal.js';
import { type MemberRef, memberName } from './member-name.js';
import { reportDenials } from './report-denials.js';
import { toDenialToolMessage } from './to-denial-tool-message.js';

/** Options of {@link keybrakeMiddleware}. */
export interface KeybrakeMiddlewareOptions {
  /**
   * The member the agent plays: its name or its team-session handle. Recorded, with the tool name
   * and tool call id, in the audit record of every vendor call its tools make.
   */
  member: MemberRef;
  /**
   * Append a report of the run's Keybrake denials (code, member label, cap, spent, as text and a
   * JSON line) to the agent's final message, so a supervisor that reads only that message —
   * `createSupervisor`'s default `outputMode: 'last_message'`, or an agent called as a tool — sees
   * why the member stopped.
   * @default true
   */
  reportDenials?: boolean;
}

/**
 * Agent middleware for a team member (`createAgent({ middleware })`): its `wrapToolCall` hook runs
 * every tool call through {@link runCappedTool}, so vendor calls are audited with the member, tool
 * and tool call id, and answers a Keybrake denial with LangChain's native tool error — a
 * `ToolMessage` with `status: 'error'` and {@link formatDenialForModel}'s text — returned by the
 * middleware itself, so the denial never crashes the run. Its `afterAgent` hook reports the run's
 * denials in the member's final message (see {@link KeybrakeMiddlewareOptions.reportDenials}).
 *
 * Non-Keybrake errors, and LangGraph's `interrupt()` and `Command` signals even after a denial the
 * tool handled, are re-thrown unchanged. Note that LangChain raises a tool error out of the
 * run once any `wrapToolCall` middleware is installed; put `toolErrorMiddleware` first in the list
 * to hand such errors to the model instead.
 *
 * @param options - Which member the agent plays.
 * @returns The middleware.
 * @example
 * ```ts
 * const billing = createAgent({
 *   model,
 *   name: 'billing',
 *   tools: [chargeCustomer],
 *   middleware: [keybrakeMiddleware({ member: team.member('billing') })],
 * });
 * ```
 */
export function keybrakeMiddleware(options: KeybrakeMiddlewareOptions) {
  const member = memberName(options.member);
  const report = options.reportDenials ?? true;
  return createMiddleware({
    name: 'KeybrakeMiddleware',
    wrapToolCall: async (request, handler) => {
      const { toolCall } = request;
      try {
        return await runCappedTool({ member, tool: toolCall.name, toolCallId: toolCall.id }, () => handler(request), {
          passThrough: isGraphSignal,
        });
      } catch (error) {
        if (!KeybrakeError.isInstance(error)) throw error;
        return toDenialToolMessage(error, { toolCallId: toolCall.id ?? '', toolName: toolCall.name });
      }
    },
    afterAgent: async (state) => (report ? reportDenials(options.member, state.messages) : undefined),
  });
}
