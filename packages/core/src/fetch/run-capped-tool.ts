import type { AuditActor } from '../audit/audit-record.js';
import { findKeybrakeError } from '../errors/find-keybrake-error.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import { noteRunEnded, type RunOutcome, runAsTool, scopeDenials, stoppedBy } from './actor-context.js';

/** The outcome the runs of one execution share, by their `denials` list. */
const sharedRuns = new WeakMap<KeybrakeError[], RunOutcome>();

/** Options of {@link runCappedTool}. */
export interface RunCappedToolOptions {
  /**
   * Errors the framework uses for control flow, which must reach it unchanged even after a
   * denial in the same execution: LangGraph's `interrupt()` and `Command` bubble-ups, say.
   * Abort errors (`name` `'AbortError'`, or `'TimeoutError'` from `AbortSignal.timeout()`) always pass through.
   */
  passThrough?: ((error: unknown) => boolean) | undefined;
  /**
   * The denials of the execution, for several runs that are parts of one execution: a streaming
   * tool's steps, each run on its own, where a denial in one step and the error thrown in a later
   * step must still be read as one. A new list by default.
   */
  denials?: KeybrakeError[] | undefined;
}

/**
 * Runs one tool execution for an agent framework adapter: every capped call inside it is audited
 * with `actor` (member, tool, tool call id), and if the execution fails because of a Keybrake
 * denial — thrown directly, raised by an official SDK from the denial response, or any error
 * thrown after the vault denied a call in this execution — it rejects with the typed
 * {@link KeybrakeError} (the original error as `cause` when they differ). Other errors, aborts
 * and the framework's control-flow signals ({@link RunCappedToolOptions.passThrough}) pass
 * through unchanged; results are returned as they are.
 *
 * @example
 * ```ts
 * const result = await runCappedTool({ member: 'billing', tool: 'charge', toolCallId }, () => execute(input));
 * ```
 */
export async function runCappedTool<T>(
  actor: AuditActor,
  task: () => T | Promise<T>,
  options: RunCappedToolOptions = {},
): Promise<T> {
  const denials = options.denials ?? [];
  let shared = sharedRuns.get(denials);
  if (!shared) {
    shared = {};
    sharedRuns.set(denials, shared);
  }
  return runAsTool(
    actor,
    async () => {
      let result: T;
      try {
        result = await task();
      } catch (error) {
        const direct = findKeybrakeError(error);
        if (!direct && (isAbort(error) || options.passThrough?.(error))) {
          // Not a stop by itself: the run ended as its own denials say (none: the member went on).
          noteRunEnded(scopeDenials().at(-1) ?? stoppedBy());
          throw error;
        }
        // A denial of this run, else one that stopped the last tool run inside it (a member's).
        const denial: KeybrakeError | undefined = direct ?? scopeDenials().at(-1) ?? stoppedBy();
        if (!denial) {
          noteRunEnded(undefined); // failed for another reason: the member went on after any denial
          throw error;
        }
        if (denial !== error && denial.cause === undefined)
          Object.defineProperty(denial, 'cause', { value: error, enumerable: false });
        noteRunEnded(denial);
        throw denial;
      }
      // A run that answered a denial as its result (a wrapper inside it did) was still stopped by it.
      noteRunEnded(scopeDenials().at(-1) ?? stoppedBy(), true);
      return result;
    },
    denials,
    shared,
  );
}

/** An abort: `AbortError`, or the `TimeoutError` of a signal from `AbortSignal.timeout()`. */
function isAbort(error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}

/**
 * The text a model reads when a tool is stopped by Keybrake: the code, what happened, which
 * budget, the figures, and that retrying will not help — followed by the structured fields as JSON.
 *
 * @example
 * ```ts
 * formatDenialForModel(error); // 'KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: ... {"code":...}'
 * ```
 */
export function formatDenialForModel(error: KeybrakeError): string {
  return `${error.code}: ${error.message}\n${JSON.stringify(error.toJSON())}`;
}

/**
 * The line a supervisor reads about a member Keybrake denied and that went on afterwards (another
 * tool call followed): not a stop, so not a failed delegation, but never hidden either.
 *
 * @param error - The member's last denial.
 * @param member - The member's name, if the line should say it.
 * @example
 * ```ts
 * formatDenialWentOn(error, 'billing'); // 'Keybrake denied a call of member "billing" during the run (KEYBRAKE_CAP_EXCEEDED: …); the member went on afterwards.'
 * ```
 */
export function formatDenialWentOn(error: KeybrakeError, member?: string): string {
  const who = member === undefined ? 'this member' : `member ${JSON.stringify(member)}`;
  return `Keybrake denied a call of ${who} during the run (${error.code}: ${error.message}); the member went on afterwards.`;
}
