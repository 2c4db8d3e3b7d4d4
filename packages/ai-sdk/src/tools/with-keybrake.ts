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

type Method = (...args: unknown[]) => unknown;

/**
 * Whether a value read from a tool is a method to run on the tool: a plain function, not a class
 * or a callable schema with properties of its own (an ArkType type), not `Object.prototype`'s.
 */
const isMethod = (key: PropertyKey, value: unknown): value is Method =>
  typeof value === 'function' &&
  key !== 'constructor' &&
  value !== Reflect.get(Object.prototype, key) &&
  Reflect.ownKeys(value).every((own) => own === 'length' || own === 'name' || own === 'prototype') &&
  !Function.prototype.toString.call(value).startsWith('class');

/**
 * The tool with only `execute` replaced: a view of it (a `Proxy`) that reads through to the tool
 * and is never written to it. The view's own properties — what code writes, defines or deletes
 * through it, and everything once it is frozen, sealed or made non-extensible — live on its own
 * target (an empty object with the tool's prototype, so `instanceof` holds). Any other property
 * is the tool's: `execute` reads as the capped one, and every other one through the tool, getters
 * run on it, every function bound to it (cached per key), so that the methods the AI SDK calls on
 * the view (`toModelOutput`, `needsApproval`, `onInputAvailable`…) run on the tool, private `#`
 * fields included. Its own properties are reported as configurable, writable data properties (the
 * target holds every non-configurable one, as `Proxy` requires), non-enumerable and symbol-keyed
 * ones included (`experimental_toolCaller`, tool search's markers), and `execute` as enumerable
 * even when a class has it on its prototype, so `{ ...view }` carries the capped one. Writes never
 * run the tool's setters; freezing the view first copies what it reads onto its target.
 */
function replaceExecute(tool: object, execute: Execute): object {
  const target = Object.create(Object.getPrototypeOf(tool)) as object;
  const deleted = new Set<PropertyKey>();
  const bound = new Map<PropertyKey, { method: Method; bound: Method }>();
  /** Whether `key` reads through to the tool: not the view's own, not deleted, the view not frozen. */
  const live = (key: PropertyKey) => Object.isExtensible(target) && !Object.hasOwn(target, key) && !deleted.has(key);
  /** `key` read from the tool (or its prototype), getters run and methods bound on the tool. */
  const read = (key: PropertyKey, from: object | null) => {
    const value: unknown = from === null ? undefined : Reflect.get(from, key, tool);
    // The tool itself (a getter returning `this`) is handed out as the view, never uncapped.
    if (value === tool) return view;
    if (!isMethod(key, value)) return value;
    const cached = bound.get(key);
    if (cached?.method === value) return cached.bound;
    // Run on the tool; a fluent method's `return this` gives the view back.
    const method: Method = (...args) => {
      const result = Reflect.apply(value, tool, args);
      return result === tool ? view : result;
    };
    bound.set(key, { method: value, bound: method });
    return method;
  };
  /** Whether `key` is an own property of the view. */
  const isOwn = (key: PropertyKey) =>
    Object.hasOwn(target, key) || (live(key) && (key === 'execute' || Object.hasOwn(tool, key)));
  const describe = (key: PropertyKey): PropertyDescriptor | undefined => {
    if (Object.hasOwn(target, key)) return Reflect.getOwnPropertyDescriptor(target, key);
    if (!isOwn(key)) return undefined;
    if (key === 'execute') return { value: execute, writable: true, enumerable: true, configurable: true };
    const { enumerable } = Reflect.getOwnPropertyDescriptor(tool, key) ?? {};
    return { value: read(key, tool), writable: true, enumerable, configurable: true };
  };
  const ownKeys = () =>
    Object.isExtensible(target)
      ? [...new Set([...Reflect.ownKeys(tool), 'execute', ...Reflect.ownKeys(target)])].filter(isOwn)
      : Reflect.ownKeys(target);
  const view: object = new Proxy(target, {
    get: (target, key, receiver) => {
      if (Object.hasOwn(target, key)) return Reflect.get(target, key, receiver);
      // A deleted `execute` is absent: never the tool's own, uncapped.
      if (key === 'execute') return live(key) ? execute : undefined;
      return read(key, live(key) ? tool : Reflect.getPrototypeOf(target));
    },
    has: (target, key) => isOwn(key) || (key !== 'execute' && Reflect.has(live(key) ? tool : target, key)),
    getOwnPropertyDescriptor: (_target, key) => describe(key),
    ownKeys,
    set: (target, key, value, receiver) => {
      if (receiver !== view || Object.hasOwn(target, key) || !Object.isExtensible(target))
        return Reflect.set(target, key, value, receiver);
      const enumerable = describe(key)?.enumerable ?? true;
      return Reflect.defineProperty(target, key, { value, writable: true, enumerable, configurable: true });
    },
    defineProperty: (target, key, descriptor) => {
      // Merged with the property as the view reads it, as on any object.
      const current = Object.hasOwn(target, key) ? undefined : describe(key);
      if (current) Reflect.defineProperty(target, key, current);
      return Reflect.defineProperty(target, key, descriptor);
    },
    deleteProperty: (target, key) => {
      if (!Reflect.deleteProperty(target, key)) return false;
      if (Object.hasOwn(tool, key) || key === 'execute') deleted.add(key);
      return true;
    },
    preventExtensions: (target) => {
      for (const key of ownKeys()) {
        const current = describe(key);
        if (current && !Object.hasOwn(target, key)) Reflect.defineProperty(target, key, current);
      }
      return Reflect.preventExtensions(target);
    },
  });
  return view;
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
