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

/**
 * Runs each step of a streaming tool (preliminary results) as a capped run of the same execution:
 * they share `denials`, so a denial in one step and the error thrown in a later one are one denial.
 */
async function* cappedSteps(
  actor: AuditActor,
  output: AsyncIterable<unknown>,
  denials: KeybrakeError[],
): AsyncGenerator<unknown> {
  const iterator = output[Symbol.asyncIterator]();
  try {
    while (true) {
      const step = await runCappedTool(actor, () => iterator.next(), { denials }).catch(toToolError);
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
    const denials: KeybrakeError[] = [];
    let output: unknown;
    // runCappedTool calls its task synchronously, so `output` is known here: the AI SDK tells a
    // streaming tool by its return value, so an async iterable must be returned as one.
    const settled = runCappedTool(
      actor,
      () => {
        // Called on the tool itself, as the AI SDK calls `tool.execute(…)`: its `this`, private
        // fields included, stays the tool.
        output = execute.call(owner, input, options);
        return output;
      },
      { denials },
    );
    if (isAsyncIterable(output)) {
      settled.catch(() => {});
      return cappedSteps(actor, output, denials);
    }
    return settled.catch(toToolError);
  };
}

/**
 * The tool with only `execute` replaced. A view of the tool itself (a `Proxy`), so its getters and
 * methods run on it, private (`#`) fields included, and every property it has — non-enumerable
 * ones (`experimental_toolCaller` marks a tool that way), symbol-keyed ones, its prototype's
 * (class-based tools) — reads as before. A tool that cannot take a new `execute` (frozen, sealed,
 * `execute` not configurable) gets a copy with the same prototype and properties instead.
 */
function replaceExecute(tool: object, execute: Execute): object {
  const own = Object.getOwnPropertyDescriptor(tool, 'execute');
  const replaced = { value: execute, enumerable: true, writable: true, configurable: true };
  if (!Object.isExtensible(tool) || own?.configurable === false)
    return Object.create(Object.getPrototypeOf(tool), { ...Object.getOwnPropertyDescriptors(tool), execute: replaced });
  return new Proxy(tool, {
    get: (target, key) => (key === 'execute' ? execute : Reflect.get(target, key, target)),
    getOwnPropertyDescriptor: (target, key) =>
      key === 'execute' ? replaced : Reflect.getOwnPropertyDescriptor(target, key),
    ownKeys: (target) => {
      const keys = Reflect.ownKeys(target);
      return keys.includes('execute') ? keys : [...keys, 'execute'];
    },
    has: (target, key) => key === 'execute' || Reflect.has(target, key),
  });
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
    wrapped[name] = replaceExecute(tool, capExecute(tool, execute, { member, tool: name }));
  }
  return wrapped as TOOLS;
}
