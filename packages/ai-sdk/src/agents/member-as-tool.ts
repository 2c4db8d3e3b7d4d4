import {
  type DelegationReport,
  findKeybrakeError,
  formatDenialWentOn,
  type KeybrakeError,
  keybrakeErrorFromJSON,
  noteMemberWentOn,
  runDelegation,
} from '@keybrake/core';
import { jsonSchema, type Tool, tool } from 'ai';
import { asToolError } from '../tools/as-tool-error.js';

/** A member's tool call outcome as a delegation reads it: a step's content part, or `onToolExecutionEnd`'s `toolOutput`. */
export interface MemberToolOutput {
  readonly type: string;
  readonly error?: unknown;
  readonly toolCallId?: string;
}

/** The parts of an AI SDK run result (`agent.generate()`, `generateText()`) a delegation reads. */
export interface MemberRunResult {
  /** The member's final text: what the supervisor's model reads when the member was not stopped. */
  text: string;
  /**
   * The member's steps, scanned for `tool-error` parts carrying a Keybrake denial, and for
   * `tool-result` parts of capped tool runs that answered a denial as their result.
   */
  steps: ReadonlyArray<{
    readonly content: ReadonlyArray<MemberToolOutput>;
  }>;
}

/** What `onToolExecutionEnd` is given (the AI SDK's `ToolExecutionEndEvent`, the part a delegation reads). */
export interface MemberToolExecutionEnd {
  readonly toolOutput: MemberToolOutput;
  /** The messages of the step's model call: one array per step, shared by its tool calls. */
  readonly messages?: readonly unknown[] | undefined;
}

/**
 * How a delegation runs a member: its abort signal, and `onToolExecutionEnd`, through which it sees
 * the member's denials as they happen — so a denial is still reported when the member's run later
 * throws (its model provider fails, say) and its steps are lost.
 */
export interface MemberRunOptions {
  abortSignal?: AbortSignal | undefined;
  onToolExecutionEnd: (event: MemberToolExecutionEnd) => void;
}

/**
 * Runs a member on one task: an agent (e.g. a `ToolLoopAgent`, which merges the delegation's
 * `onToolExecutionEnd` with its own) or a function calling `generateText`, which should pass both
 * options on.
 */
export type MemberRunner =
  | { generate(options: { prompt: string } & MemberRunOptions): PromiseLike<MemberRunResult> }
  | ((task: string, options: MemberRunOptions) => PromiseLike<MemberRunResult>);

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

/** A member's `tool-result` as `onToolExecutionEnd` saw it end, in order: the denial it answered, if any. */
interface EndedToolResult {
  readonly toolCallId: string | undefined;
  readonly denial: KeybrakeError | undefined;
}

/**
 * Reads the denials of a member's tool calls from their outputs: a `tool-error` carrying one, or a
 * `tool-result` of a capped tool run that answered one as its result (the tool caught the official
 * SDK's error and returned a value), as `entries` have it — the delegation's report, or what
 * `onToolExecutionEnd` saw — each entry once, in order, as tool call ids may repeat across steps.
 */
function denialReader(entries: readonly EndedToolResult[]) {
  const taken = new Set<EndedToolResult>();
  return (output: MemberToolOutput) => {
    if (output.type === 'tool-error') return findKeybrakeError(output.error);
    if (output.type !== 'tool-result' || output.toolCallId === undefined) return undefined;
    const entry = entries.find((each) => each.toolCallId === output.toolCallId && !taken.has(each));
    if (entry) taken.add(entry);
    return entry?.denial;
  };
}

/**
 * The last Keybrake denial among the member's tool calls, and whether a later step's tool call
 * succeeded: then the member went on after it and was not stopped.
 */
function lastDenial(
  result: MemberRunResult,
  report: DelegationReport,
  ended: readonly EndedToolResult[],
): { denial: KeybrakeError; wentOn: boolean; all: KeybrakeError[] } | undefined {
  let found: { denial: KeybrakeError; wentOn: boolean; all: KeybrakeError[] } | undefined;
  const all: KeybrakeError[] = [];
  // What `onToolExecutionEnd` saw, every tool result in order, so a tool call id that repeats in a
  // later step (some providers number calls per step) reads that step's outcome; else (a runner that
  // did not pass the callback on) the delegation's report, which holds only the denials.
  const denialOf = denialReader(ended.length > 0 ? ended : report.answered);
  for (const step of result.steps) {
    let stepDenial: KeybrakeError | undefined;
    let succeeded = false;
    for (const part of step.content) {
      const denial = denialOf(part);
      if (denial) {
        stepDenial = denial;
        all.push(denial);
      } else if (part.type === 'tool-result') succeeded = true;
    }
    if (stepDenial) found = { denial: stepDenial, wentOn: false, all };
    else if (succeeded && found) found.wentOn = true;
  }
  return found;
}

/**
 * Turns a member agent into a delegation tool for the supervisor (the AI SDK's subagent pattern:
 * a tool whose `execute` runs the member). A member's tool errors stay inside its own run, so when
 * the member's steps hold a `tool-error` with a Keybrake denial (a cap, endpoint, expiry or
 * revocation stop) — or a tool wrapped with `withKeybrake` caught a denial and returned it as its
 * result, which the AI SDK records as a `tool-result` — the tool throws that typed {@link KeybrakeError}: the supervisor gets a
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
  const run = (task: string, options: MemberRunOptions) =>
    typeof member === 'function' ? member(task, options) : member.generate({ prompt: task, ...options });
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
      // The member's last denial as it happened, and whether a tool call of a later step succeeded.
      // (Steps are told apart by their messages array, not its length: `prepareStep` may trim it.)
      let seen: { denial: KeybrakeError; step: object | undefined; wentOn: boolean } | undefined;
      const denials: KeybrakeError[] = [];
      const report: DelegationReport = { answered: [] };
      const denialOf = denialReader(report.answered);
      const ended: EndedToolResult[] = [];
      const onToolExecutionEnd = ({ toolOutput, messages: step }: MemberToolExecutionEnd) => {
        const denial = denialOf(toolOutput);
        if (toolOutput.type === 'tool-result') ended.push({ toolCallId: toolOutput.toolCallId, denial });
        if (denial) denials.push(denial);
        if (denial) seen = { denial, step, wentOn: false };
        else if (toolOutput.type === 'tool-result' && seen && (step === undefined || step !== seen.step))
          seen.wentOn = true;
      };
      try {
        // A delegation of its own: a parallel one to the same member does not clear its stop.
        result = await runDelegation(() => run(task, { abortSignal, onToolExecutionEnd }), report);
      } catch (error) {
        // (A timed-out or cancelled delegation too: a per-tool timeout aborts this call only, and
        // the supervisor's run goes on.)
        const direct = findKeybrakeError(error);
        if (direct !== undefined && direct === error) throw asToolError(direct);
        // The run failed (its model provider, say) after the member was denied: the supervisor
        // must still read the denial, or it may send the delegation again — as a stop, or as a
        // note if the member had gone on after it.
        if (!direct && seen?.wentOn) {
          for (const denial of denials) noteMemberWentOn(denial);
          throw withNote(error, formatDenialWentOn(seen.denial));
        }
        const denial = direct ?? seen?.denial;
        if (!denial) throw error;
        throw asToolError(copyOf(denial), `The member's run then failed: ${errorMessage(error)}`);
      }
      const last = lastDenial(result, report, ended);
      if (!last) return result.text;
      const { denial } = last;
      // The member went on after the denial: not a failed delegation (the supervisor must not send
      // it again), but never hidden either — any later tool call, even a free one, counts as going on.
      if (last.wentOn) {
        for (const each of last.all) noteMemberWentOn(each);
        const note = formatDenialWentOn(denial);
        return result.text ? `${result.text}\n\n${note}` : note;
      }
      throw asToolError(copyOf(denial), result.text ? `The member's last report: ${result.text}` : undefined);
    },
  });
}

/** A copy of a member's denial (the original as its `cause`), so the member's own tool error keeps the text its model read. */
function copyOf(denial: KeybrakeError): KeybrakeError {
  const copy = keybrakeErrorFromJSON(denial.toJSON()) ?? denial;
  if (copy !== denial) Object.defineProperty(copy, 'cause', { value: denial, enumerable: false });
  return copy;
}

/** The member's error with a line for the supervisor after its message (the original as `cause`). */
function withNote(error: unknown, note: string): Error {
  const noted = new Error(`${errorMessage(error)}\n\n${note}`, { cause: error });
  if (error instanceof Error) noted.name = error.name;
  return noted;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
