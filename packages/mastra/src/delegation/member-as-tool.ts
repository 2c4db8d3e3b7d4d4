import { type KeybrakeError, noteMemberWentOn, runDelegation } from '@keybrake/core';
import { RequestContext } from '@mastra/core/request-context';
import { createTool } from '@mastra/core/tools';
import { nonRetryableError } from '../tools/non-retryable-error.js';
import { requestContextOf } from '../tools/to-tool-error.js';
import {
  type DenialLog,
  describeDenialWentOn,
  describeMemberDenials,
  type MemberDenial,
  memberWasStopped,
  openDenialLog,
} from './denial-log.js';

/** The part of a Mastra `Agent` that {@link memberAsTool} uses. */
export interface MemberAgent {
  id: string;
  getDescription(): string;
  generate(
    messages: string,
    options: {
      requestContext: RequestContext;
      abortSignal?: AbortSignal | undefined;
      /** Called after each step (its model call and tool calls) of the run. */
      onStepFinish?: ((step: never) => unknown) | undefined;
    },
  ): Promise<{ text: string }>;
  /** The agent's default options: their `onStepFinish` still runs alongside the one memberAsTool passes. */
  getDefaultOptions?(options: { requestContext: RequestContext }): unknown;
}

/** Options of {@link memberAsTool}. */
export interface MemberAsToolOptions {
  /** The tool's id, which is also the name the supervisor's model calls it by. @default `ask-<agent id>` */
  id?: string | undefined;
  /** What the supervisor's model reads about the member. @default the agent's description */
  description?: string | undefined;
}

const promptSchema = {
  type: 'object' as const,
  properties: { prompt: { type: 'string' as const, description: 'The task for this team member, in full.' } },
  required: ['prompt'],
  additionalProperties: false,
};

// Mastra's own keys that must not leak from the supervisor's run into the member's (its memory thread).
const isMastraRunKey = (key: string) => key === 'MastraMemory' || key.startsWith('mastra__');

/**
 * Exposes a member agent to a supervisor as a tool that fails when Keybrake stopped the member:
 * the member runs with a copy of the supervisor's request context holding a denial log, and if
 * any of its tools (wrapped with `withKeybrake` or covered by `keybrakeHooks`) was denied, the tool
 * throws — the supervisor's model reads a tool error: `Keybrake stopped member "<member>" (tool
 * "<tool>", N calls denied).`, the member's last reply, then the denial as the member read it
 * (code, message, structured JSON with `label`, `capUsd`, `spentUsd`, …). If the member went on
 * after its denial, it returns `{ text, keybrake }`: the member's reply and a line naming the
 * denial. Otherwise it returns `{ text }`, the member's reply. A member run that throws after a
 * denial fails the same way, its error named (`The member's run then failed: …`), or, if the member
 * went on, rethrows it with the denial's line. Use it instead of Mastra's `agents: {}` delegation when the
 * supervisor should see a stopped member as a failed tool call.
 *
 * @param agent - The member agent.
 * @param options - Tool id and description.
 * @returns A Mastra tool taking `{ prompt }`.
 * @throws {Error} From the tool's execution, when the member was stopped: the message above, with
 * the last `KeybrakeError` as `cause`.
 * @example
 * ```ts
 * const supervisor = new Agent({
 *   id: 'supervisor', name: 'supervisor', instructions, model,
 *   tools: { askBilling: memberAsTool(billing) },
 * });
 * ```
 */
export function memberAsTool(agent: MemberAgent, options: MemberAsToolOptions = {}) {
  return createTool({
    id: options.id ?? `ask-${agent.id}`,
    description: options.description ?? (agent.getDescription() || `Team member ${agent.id}`),
    inputSchema: promptSchema,
    execute: async (input, context) => {
      const parent = requestContextOf(context);
      const entries = parent ? [...parent.entries()].filter(([key]) => !isMastraRunKey(key)) : [];
      const requestContext = new RequestContext<unknown>(entries);
      const log = openDenialLog(requestContext);
      // Steps counted: a call of the same step as a denial (chosen before the model read it) is
      // not the member going on. Passed options replace the agent's defaults: theirs runs too.
      const defaults = (await agent.getDefaultOptions?.({ requestContext })) as
        | { onStepFinish?: (step: never) => unknown }
        | undefined;
      const onStepFinish = async (step: never) => {
        log.step = (log.step ?? 0) + 1;
        await defaults?.onStepFinish?.(step);
      };
      const { prompt } = input as { prompt: string };
      let reply: { text: string };
      try {
        // A delegation of its own: a parallel one to the same member does not clear its stop.
        reply = await runDelegation(() =>
          agent.generate(prompt, { requestContext, abortSignal: context?.abortSignal, onStepFinish }),
        );
      } catch (error) {
        // The run failed (its model provider, say) after the member was denied: the supervisor
        // must still read the denial, or it (or a step's retries) may send the delegation again.
        const last = log.denials.at(-1);
        if (!last) throw error;
        const failed = `The member's run then failed: ${error instanceof Error ? error.message : String(error)}`;
        if (!memberWasStopped(log)) throw new Error(`${failed}\n\n${wentOn(log)}`, { cause: error });
        throw memberStopped(log, last, ` ${failed}`);
      }
      const last = log.denials.at(-1);
      if (!last) return { text: reply.text };
      // Went on after the denial: not a failed delegation, but never a hidden denial either.
      if (!memberWasStopped(log)) return { text: reply.text, keybrake: wentOn(log) };
      const said = reply.text.trim() ? ` Its last reply: ${JSON.stringify(reply.text.trim())}` : '';
      throw memberStopped(log, last, said);
    },
  });
}

/** Tells the enclosing tool runs that the member went on after its denials; returns the line naming them. */
function wentOn(log: DenialLog): string {
  for (const each of log.denials) noteMemberWentOn(each.error);
  return describeDenialWentOn(log.denials);
}

/** The error the supervisor reads for a member Keybrake stopped: the headline, `after` it, then the last denial. */
function memberStopped(log: DenialLog, last: MemberDenial, after: string): Error {
  const [headline, ...denial] = describeMemberDenials(log.denials).split('\n');
  return markMemberStopped(nonRetryableError([`${headline}${after}`, ...denial].join('\n'), last.error));
}

const MEMBER_STOPPED = Symbol.for('keybrake.mastra.memberStopped');

function markMemberStopped(error: Error): Error {
  Object.defineProperty(error, MEMBER_STOPPED, { value: true });
  return error;
}

/**
 * Whether `error` is the one {@link memberAsTool} throws for a member Keybrake stopped, already worded
 * for the supervisor's model (its `cause` is the member's last denial).
 */
export function isMemberStopped(error: unknown): error is Error & { cause: KeybrakeError } {
  return error instanceof Error && (error as unknown as Record<symbol, unknown>)[MEMBER_STOPPED] === true;
}

/** The {@link memberAsTool} "member stopped" error in `error` or its causes (a framework may wrap it). */
export function findMemberStopped(error: unknown): (Error & { cause: KeybrakeError }) | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (isMemberStopped(current)) return current;
    current = current.cause;
  }
  return undefined;
}
