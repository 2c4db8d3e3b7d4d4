import { formatDenialForModel, KeybrakeError, runCappedTool, type TeamMember } from '@keybrake/core';
import { recordMemberSuccess } from '../delegation/denial-log.js';
import { findMemberStopped } from '../delegation/member-as-tool.js';
import { recordToolDenial, requestContextOf, toolCallIdOf, toToolError } from './to-tool-error.js';

/** Any tool with an `execute` Mastra can run: `createTool(...)`, a Vercel AI SDK tool, a plain object. */
export interface KeybrakeTool {
  execute?: ((input: never, context: never) => unknown) | undefined;
}

/** Options of {@link withKeybrake}. */
export interface WithKeybrakeOptions {
  /**
   * The team member these tools belong to — its name, or the `TeamMember` from
   * `team.member(name)`. Written into the audit record of every vendor call the tools make.
   */
  member: string | Pick<TeamMember, 'name'>;
}

type Execute = (input: unknown, context: unknown) => unknown;

/**
 * Wraps a member's Mastra tools so each execution runs through Keybrake's `runCappedTool`: every
 * vendor call made inside it is audited with the member, the tool name and the model's tool call
 * id, and a Keybrake denial (cap, endpoint, expiry, revocation) — thrown by a capped fetch or by
 * an official SDK's own exception — becomes the tool's error, whose message tells the model the
 * code, the budget, spent, cap, attempted amount and that retrying will not help. A tool that
 * catches a denial and returns a value keeps its result, but the denial is still recorded for the
 * supervisor (`keybrakeDelegation`, `memberAsTool`). Other errors pass through unchanged. Tools
 * without `execute` are returned as they are.
 *
 * @param tools - The member's tools, keyed by the name the model calls them by.
 * @param options - The member the tools belong to.
 * @returns The same record with capped copies of the tools (the originals are not modified).
 * @throws {Error} From a wrapped tool, on a denial: an `Error` with the denial as `cause` (find
 * it with `findKeybrakeError`). Mastra hands its message to the model as a tool error.
 * @example
 * ```ts
 * const billing = new Agent({
 *   id: 'billing',
 *   name: 'billing',
 *   instructions: 'Charge customers.',
 *   model,
 *   tools: withKeybrake({ chargeCustomer }, { member: team.member('billing') }),
 * });
 * ```
 */
export function withKeybrake<TTools extends Record<string, KeybrakeTool>>(
  tools: TTools,
  options: WithKeybrakeOptions,
): TTools {
  const member = typeof options.member === 'string' ? options.member : options.member.name;
  const capped: Record<string, KeybrakeTool> = {};
  for (const [name, tool] of Object.entries(tools)) {
    const execute = tool.execute as Execute | undefined;
    if (typeof execute !== 'function') {
      capped[name] = tool;
      continue;
    }
    const copy: KeybrakeTool = Object.assign(Object.create(Object.getPrototypeOf(tool)), tool);
    const cappedExecute: Execute = async (input, context) => {
      const actor = { member, tool: name, toolCallId: toolCallIdOf(context) };
      const started = performance.now();
      /** A member this tool delegated to (`memberAsTool`) that Keybrake stopped: its error is kept as worded. */
      let memberStopped: (Error & { cause: KeybrakeError }) | undefined;
      /** The denials of this execution's own vendor calls. */
      const denials: KeybrakeError[] = [];
      try {
        const output = await runCappedTool(
          actor,
          async () => {
            try {
              return await execute.call(tool, input, context);
            } catch (error) {
              memberStopped = findMemberStopped(error);
              throw error;
            }
          },
          { denials },
        );
        // The tool caught a denial (the official SDK's error) and answered it as its result: Mastra
        // records a successful call, but the supervisor still reads that the member was denied.
        if (denials.length > 0) for (const denial of denials) recordToolDenial(denial, { ...actor, context });
        else recordMemberSuccess(requestContextOf(context), started);
        return output;
      } catch (error) {
        if (memberStopped) {
          // This member's own log records it too, for whoever delegated to this member.
          recordToolDenial(memberStopped.cause, { ...actor, context });
          if (isNetworkToolCall(context)) return { error: true, message: memberStopped.message };
          throw memberStopped;
        }
        if (!KeybrakeError.isInstance(error)) throw error;
        const toolError = toToolError(error, { ...actor, context });
        // An agent network runs its own tools without catching their errors (a thrown denial would
        // fail the whole network run): the denial is the tool's result, which the routing agent reads.
        if (isNetworkToolCall(context)) return { error: true, message: formatDenialForModel(error) };
        throw toolError;
      }
    };
    copy.execute = cappedExecute;
    capped[name] = copy;
  }
  return capped as TTools;
}

/**
 * Whether a tool runs as an agent network's own tool (`agent.network()`'s tool step): its context
 * has an `agent` without `messages`, a `runId` and a `memory`. The agent loop always gives
 * `agent.messages`; a workflow step gives `workflow`, not `agent`.
 */
function isNetworkToolCall(context: unknown): boolean {
  if (typeof context !== 'object' || context === null) return false;
  const { agent } = context as { agent?: unknown };
  return (
    typeof agent === 'object' && agent !== null && !('messages' in agent) && 'runId' in context && 'memory' in context
  );
}
