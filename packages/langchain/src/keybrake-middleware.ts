import { KeybrakeError, runCappedTool } from '@keybrake/core';
import type { ClientTool } from '@langchain/core/tools';
import { type AgentMiddleware, createMiddleware } from 'langchain';
import { isGraphSignal } from './is-graph-signal.js';
import { type MemberRef, memberName } from './member-name.js';
import { reportDenials } from './report-denials.js';
import { toDenialToolMessage } from './to-denial-tool-message.js';
import { capTool } from './with-keybrake.js';

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

const cappedTools = new WeakMap<ClientTool, Map<string, ClientTool>>();

/** One capped copy per tool and member, made on first use. */
function cappedOnce<T extends ClientTool>(tool: T, member: string): T {
  let byMember = cappedTools.get(tool);
  if (!byMember) {
    byMember = new Map();
    cappedTools.set(tool, byMember);
  }
  let capped = byMember.get(member);
  if (!capped) {
    capped = capTool(tool, member);
    byMember.set(member, capped);
  }
  return capped as T;
}

function isClientTool(tool: unknown): tool is ClientTool {
  return typeof tool === 'object' && tool !== null && typeof (tool as { invoke?: unknown }).invoke === 'function';
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
// Typed as plain `AgentMiddleware`: the inferred type names langchain 1.5's five type parameters,
// which the published `.d.ts` would then ask of every langchain in the peer range.
export function keybrakeMiddleware(options: KeybrakeMiddlewareOptions): AgentMiddleware {
  const member = memberName(options.member);
  const report = options.reportDenials ?? true;
  return createMiddleware({
    name: 'KeybrakeMiddleware',
    wrapToolCall: async (request, handler) => {
      const { toolCall } = request;
      // The handlers inside this one (a retry middleware listed after it, say) get the tool capped,
      // so a denial is already a tool result when they see it: never an error to retry, which would
      // run the tool again and move its money again.
      const inner = isClientTool(request.tool) ? { ...request, tool: cappedOnce(request.tool, member) } : request;
      try {
        return await runCappedTool({ member, tool: toolCall.name, toolCallId: toolCall.id }, () => handler(inner), {
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
