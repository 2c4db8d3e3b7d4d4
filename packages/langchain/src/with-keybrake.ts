import { KeybrakeError, runCappedTool } from '@keybrake/core';
import type { ClientTool, ToolRunnableConfig } from '@langchain/core/tools';
import { isGraphSignal } from './is-graph-signal.js';
import { type MemberRef, memberName } from './member-name.js';
import { toDenialToolMessage } from './to-denial-tool-message.js';

/** Options of {@link withKeybrake}. */
export interface WithKeybrakeOptions {
  /**
   * The member these tools belong to: its name or its team-session handle. Recorded, with the tool
   * name and tool call id, in the audit record of every vendor call the tools make.
   */
  member: MemberRef;
}

type Invoke = (input: unknown, config?: ToolRunnableConfig) => Promise<unknown>;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** The tool call id LangChain's `ToolNode` passes: on the tool call itself, or in the runtime. */
function toolCallIdOf(input: unknown, config: ToolRunnableConfig | undefined): string | undefined {
  if (isRecord(input) && input.type === 'tool_call' && typeof input.id === 'string') return input.id;
  if (typeof config?.toolCall?.id === 'string') return config.toolCall.id;
  const runtimeId: unknown = isRecord(config) ? config.toolCallId : undefined;
  return typeof runtimeId === 'string' ? runtimeId : undefined;
}

/**
 * The tool, capped for one member: a Keybrake denial it raises answers its tool call as a denial
 * `ToolMessage` instead of throwing. Used by {@link withKeybrake} and, per call, by
 * `keybrakeMiddleware`.
 */
export function capTool<T extends ClientTool>(tool: T, member: string): T {
  const invoke = tool.invoke.bind(tool) as Invoke;
  // Everything but `invoke` is inherited from the original tool: name, schema, description,
  // response format, callbacks — so providers and `ToolNode` see the same tool.
  const capped = Object.create(tool) as T;
  const cappedInvoke: Invoke = async (input, config) => {
    const toolCallId = toolCallIdOf(input, config);
    try {
      return await runCappedTool({ member, tool: tool.name, toolCallId }, () => invoke(input, config), {
        passThrough: isGraphSignal,
      });
    } catch (error) {
      if (!KeybrakeError.isInstance(error) || toolCallId === undefined) throw error;
      return toDenialToolMessage(error, { toolCallId, toolName: tool.name });
    }
  };
  Object.defineProperty(capped, 'invoke', { value: cappedInvoke, writable: true, configurable: true });
  return capped;
}

/**
 * Wraps a member's tools so that every vendor call they make is audited with the member, tool and
 * tool call id, and a Keybrake denial raised inside a tool — by the capped fetch or by an official
 * SDK's own exception (`StripeRateLimitError`, Twilio's `RestException`) — answers the tool call
 * with LangChain's native tool error: a `ToolMessage` with `status: 'error'` whose content is
 * {@link formatDenialForModel}'s text. Other errors pass through unchanged (LangChain's
 * `ToolNode` then handles them as usual).
 *
 * @param tools - The member's tools (built with the member's vault key or `member.fetch()`).
 * @param options - Which member they belong to.
 * @returns The same tools, capped, in the same order.
 * @throws {KeybrakeError} only when a tool is invoked directly, outside a tool call (no tool call
 *   id to answer): the typed denial, with the original error as `cause`.
 * @example
 * ```ts
 * const billing = team.member('billing');
 * const agent = createAgent({
 *   model,
 *   name: 'billing',
 *   tools: withKeybrake([chargeCustomer], { member: billing }),
 * });
 * ```
 */
export function withKeybrake<T extends ClientTool>(tools: readonly T[], options: WithKeybrakeOptions): T[] {
  const member = memberName(options.member);
  return tools.map((tool) => capTool(tool, member));
}
