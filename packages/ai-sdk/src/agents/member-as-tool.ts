import { findKeybrakeError, formatDenialWentOn, type KeybrakeError, keybrakeErrorFromJSON } from '@keybrake/core';
import { jsonSchema, type Tool, tool } from 'ai';
import { asToolError } from '../tools/as-tool-error.js';

/** The parts of an AI SDK run result (`agent.generate()`, `generateText()`) a delegation reads. */
export interface MemberRunResult {
  /** The member's final text: what the supervisor's model reads when the member was not stopped. */
  text: string;
  /** The member's steps, scanned for `tool-error` parts carrying a Keybrake denial. */
  steps: ReadonlyArray<{ readonly content: ReadonlyArray<{ readonly type: string; readonly error?: unknown }> }>;
}

/** Runs a member on one task: an agent (e.g. a `ToolLoopAgent`) or a function calling `generateText`. */
export type MemberRunner =
  | { generate(options: { prompt: string; abortSignal?: AbortSignal }): PromiseLike<MemberRunResult> }
  | ((task: string, options: { abortSignal?: AbortSignal | undefined }) => PromiseLike<MemberRunResult>);

/** Options of {@link memberAsTool}. */
export interface MemberAsToolOptions {
  /** What the supervisor's model reads about the member: what it can do, and when to delegate to it. */
  description: string;
  /**
   * Description of the tool's one input, `task`.
   * @default 'The task for the member, with every detail it needs.'
   */
  taskDescription?: string | undefined;
}

/** The input of a delegation tool. */
export interface MemberTask {
  task: string;
}

/**
 * The last Keybrake denial among the member's `tool-error` parts, and whether a later step's tool
 * call succeeded: then the member went on after it and was not stopped.
 */
function lastDenial(result: MemberRunResult): { denial: KeybrakeError; wentOn: boolean } | undefined {
  let found: { denial: KeybrakeError; wentOn: boolean } | undefined;
  for (const step of result.steps) {
    let stepDenial: KeybrakeError | undefined;
    let succeeded = false;
    for (const part of step.content) {
      if (part.type === 'tool-error') stepDenial = findKeybrakeError(part.error) ?? stepDenial;
      else if (part.type === 'tool-result') succeeded = true;
    }
    if (stepDenial) found = { denial: stepDenial, wentOn: false };
    else if (succeeded && found) found.wentOn = true;
  }
  return found;
}

/**
 * Turns a member agent into a delegation tool for the supervisor (the AI SDK's subagent pattern:
 * a tool whose `execute` runs the member). A member's tool errors stay inside its own run, so when
 * the member's steps hold a `tool-error` with a Keybrake denial (a cap, endpoint, expiry or
 * revocation stop), the tool throws that typed {@link KeybrakeError}: the supervisor gets a
 * `tool-error` part of its own, and its model reads an `error-text` tool result with the code,
 * the member's key label, cap, spent and attempted amounts, then the member's last report. If
 * the member went on with another tool call after the denial, the tool returns the member's final
 * text followed by a line naming the denial (not a failed delegation, never a hidden denial).
 * Otherwise the tool returns the member's final text.
 *
 * @param member - The member agent, or a function running it on a task.
 * @param options - The tool's description.
 * @returns An AI SDK tool taking `{ task }`, for the supervisor's tool set.
 * @throws {KeybrakeError} (as the tool's error) when the member was stopped by a denial.
 * @example
 * ```ts
 * const billingAgent = new ToolLoopAgent({ model, tools: withKeybrake(billingTools, { member: 'billing' }) });
 * const supervisor = new ToolLoopAgent({
 *   model,
 *   tools: { delegate_billing: memberAsTool(billingAgent, { description: 'Charges customers with Stripe.' }) },
 * });
 * const { steps } = await supervisor.generate({ prompt: 'Charge the 4 overdue customers $5 each.' });
 * ```
 */
export function memberAsTool(member: MemberRunner, options: MemberAsToolOptions): Tool<MemberTask, string> {
  const run = (task: string, abortSignal: AbortSignal | undefined) =>
    typeof member === 'function' ? member(task, { abortSignal }) : member.generate({ prompt: task, abortSignal });
  return tool({
    description: options.description,
    inputSchema: jsonSchema<MemberTask>({
      type: 'object',
      properties: {
        task: {
          type: 'string',
          description: options.taskDescription ?? 'The task for the member, with every detail it needs.',
        },
      },
      required: ['task'],
      additionalProperties: false,
    }),
    execute: async ({ task }, { abortSignal }) => {
      let result: MemberRunResult;
      try {
        result = await run(task, abortSignal);
      } catch (error) {
        const denial = findKeybrakeError(error);
        throw denial ? asToolError(denial) : error;
      }
      const last = lastDenial(result);
      if (!last) return result.text;
      const { denial } = last;
      // The member went on after the denial: not a failed delegation (the supervisor must not send
      // it again), but never hidden either — any later tool call, even a free one, counts as going on.
      if (last.wentOn) {
        const note = formatDenialWentOn(denial);
        return result.text ? `${result.text}\n\n${note}` : note;
      }
      // A copy, so the member's own tool error keeps the text its model read.
      const copy = keybrakeErrorFromJSON(denial.toJSON()) ?? denial;
      if (copy !== denial) Object.defineProperty(copy, 'cause', { value: denial, enumerable: false });
      throw asToolError(copy, result.text ? `The member's last report: ${result.text}` : undefined);
    },
  });
}
