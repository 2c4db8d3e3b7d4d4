import { formatDenialForModel, type KeybrakeError } from '@keybrake/core';
import type { RequestContext } from '@mastra/core/request-context';
import { recordMemberDenial } from '../delegation/denial-log.js';
import { nonRetryableError } from './non-retryable-error.js';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null;

/**
 * The model's tool call id from a Mastra tool execution context (agent or AI SDK shape).
 *
 * @example
 * ```ts
 * toolCallIdOf({ agent: { toolCallId: 'call_1' } }); // 'call_1'
 * ```
 */
export function toolCallIdOf(context: unknown): string | undefined {
  if (!isObject(context)) return undefined;
  const id = isObject(context.agent) ? context.agent.toolCallId : context.toolCallId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * The run's request context from a Mastra tool execution context.
 *
 * @example
 * ```ts
 * requestContextOf(context)?.get('keybrake__denials');
 * ```
 */
export function requestContextOf(context: unknown): RequestContext | undefined {
  const value = isObject(context) ? context.requestContext : undefined;
  return isObject(value) && typeof value.get === 'function' ? (value as unknown as RequestContext) : undefined;
}

/**
 * Turns a Keybrake denial into the error a Mastra tool throws: an `Error` whose message is
 * {@link formatDenialForModel} (Mastra hands the member's model only the message, as `error-text`),
 * with the typed denial as `cause` — a `MastraNonRetryableError`, so a workflow step does not run
 * the tool again. Also notes the denial in the run's denial log for the supervisor.
 *
 * @param denial - The typed Keybrake denial.
 * @param call - The member, tool, tool call id and the tool's execution context.
 * @returns The error to throw from the tool.
 * @example
 * ```ts
 * throw toToolError(denial, { member: 'billing', tool: 'charge', toolCallId, context });
 * ```
 */
export function toToolError(denial: KeybrakeError, call: ToolCall): Error {
  recordToolDenial(denial, call);
  return nonRetryableError(formatDenialForModel(denial), denial, denial.name);
}

/** The member, tool, tool call id and execution context of a denied tool call. */
export interface ToolCall {
  member: string;
  tool: string;
  toolCallId?: string | undefined;
  context: unknown;
}

/**
 * Records a denial in the denial log of the tool's run (if a supervisor opened one), for the
 * supervisor's report: what {@link toToolError} does before wording the error, and all a tool does
 * with an error already worded (a member stopped, from `memberAsTool`).
 */
export function recordToolDenial(denial: KeybrakeError, call: ToolCall): void {
  recordMemberDenial(requestContextOf(call.context), {
    member: call.member,
    tool: call.tool,
    toolCallId: call.toolCallId,
    error: denial,
  });
}
