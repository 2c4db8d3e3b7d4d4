import { type AuditActor, KeybrakeError, runCappedTool, type TeamMember } from '@keybrake/core';
import type { ToolExecutionOptions, ToolSet } from 'ai';
import { asToolError } from './as-tool-error.js';

/** Options of {@link withKeybrake}. */
export interface WithKeybrakeOptions {
  /**
   * The member whose tools these are: its name, or its handle from `team.member(name)`. It is
   * recorded, with the tool name and the tool call id, in the audit record of every vendor call
   * the tools make.
   */
  member: string | Pick<TeamMember, 'name'>;
}

type Execute = (input: unknown, options: ToolExecutionOptions<unknown>) => unknown;

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/**
 * A denial as the model reads it. One already worded for the model (a member stopped, from
 * `memberAsTool`, with its last report) is kept as it is: a supervisor's own capped tool set may hold it.
 */
const toToolError = (error: unknown): never => {
  throw KeybrakeError.isInstance(error) && !Object.hasOwn(error, 'toString') ? asToolError(error) : error;
};

/** Runs each step of a streaming tool (preliminary results) as one capped execution. */
async function* cappedSteps(actor: AuditActor, output: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  const iterator = output[Symbol.asyncIterator]();
  try {
    while (true) {
      const step = await runCappedTool(actor, () => iterator.next()).catch(toToolError);
      if (step.done) return;
      yield step.value;
    }
  } finally {
    await iterator.return?.();
  }
}

function capExecute(owner: object, execute: Execute, tool: { member: string; tool: string }): Execute {
  return (input, options) => {
    const actor: AuditActor = { ...tool, toolCallId: options.toolCallId };
    let output: unknown;
    // runCappedTool calls its task synchronously, so `output` is known here: the AI SDK tells a
    // streaming tool by its return value, so an async iterable must be returned as one.
    const settled = runCappedTool(actor, () => {
      // Called on the tool, as the AI SDK calls `tool.execute(…)`: a tool's `this` stays the tool.
      output = execute.call(owner, input, options);
      return output;
    });
    if (isAsyncIterable(output)) {
      settled.catch(() => {});
      return cappedSteps(actor, output);
    }
    return settled.catch(toToolError);
  };
}

/**
 * Wraps every `execute` of an AI SDK tool set so that each execution is one capped tool run: the
 * vendor calls it makes with the member's vault key are audited with the member, tool name and
 * tool call id, and a Keybrake denial raised inside it — by the capped fetch, or as an official
 * SDK's own error — is thrown as the typed {@link KeybrakeError}. The AI SDK turns it into a
 * `tool-error` part, and the model's next prompt holds a `tool-result` whose output is
 * `{ type: 'error-text', value: 'KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: … Retrying will
 * not help; report to your supervisor or stop.\n{"code":…,"label":…,"capUsd":…,"spentUsd":…}' }`;
 * the run goes on. Other errors pass through unchanged; tools without `execute` are kept as they are.
 *
 * @param tools - The member's tool set, as passed to `generateText` or `ToolLoopAgent`.
 * @param options - Which member the tools belong to.
 * @returns A tool set of the same type, with each `execute` wrapped.
 * @example
 * ```ts
 * const billing = team.member('billing');
 * const stripe = new Stripe(billing.key('stripe').vaultKey, {
 *   httpClient: Stripe.createFetchHttpClient(billing.fetch('stripe')),
 * });
 * const tools = withKeybrake(
 *   { charge: tool({ inputSchema, execute: ({ amount }) => stripe.paymentIntents.create({ amount, currency: 'usd', confirm: true }) }) },
 *   { member: billing },
 * );
 * await generateText({ model, tools, stopWhen: isStepCount(10), prompt });
 * ```
 */
export function withKeybrake<TOOLS extends ToolSet>(tools: TOOLS, options: WithKeybrakeOptions): TOOLS {
  const member = typeof options.member === 'string' ? options.member : options.member.name;
  const wrapped: Record<string, unknown> = {};
  for (const [name, tool] of Object.entries(tools)) {
    const execute = tool.execute as Execute | undefined;
    if (!execute) {
      wrapped[name] = tool;
      continue;
    }
    // A copy with every own property, non-enumerable ones included (`experimental_toolCaller`
    // marks a tool that way), and its prototype (class-based tools), with only `execute` replaced.
    const capped = Object.create(Object.getPrototypeOf(tool), Object.getOwnPropertyDescriptors(tool)) as object;
    Object.defineProperty(capped, 'execute', {
      value: capExecute(capped, execute, { member, tool: name }),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    wrapped[name] = capped;
  }
  return wrapped as TOOLS;
}
