import { formatDenialForModel, formatDenialWentOn, type KeybrakeError } from '@keybrake/core';
import type { RequestContext } from '@mastra/core/request-context';

/**
 * One tool call of a member that Keybrake stopped.
 *
 * @example
 * ```ts
 * const denial: MemberDenial = { member: 'billing', tool: 'charge', toolCallId: 'call_4', error };
 * ```
 */
export interface MemberDenial {
  /** The member whose call was denied. */
  member: string;
  /** The tool the member's model called. */
  tool: string;
  /** The model's tool call id, when the tool ran inside an agent. */
  toolCallId?: string | undefined;
  /** The typed denial (`CapExceededError`, …). */
  error: KeybrakeError;
}

/**
 * The denials of one delegated member run, shared through the run's request context.
 *
 * @example
 * ```ts
 * const log = openDenialLog(requestContext);
 * log.denials.length; // 0 until a member's tool is denied
 * ```
 */
export interface DenialLog {
  readonly denials: MemberDenial[];
  /**
   * Whether a tool call that started after the last denial succeeded. Only tools wrapped with
   * `withKeybrake` report successes.
   */
  wentOnByTime?: boolean;
  /** Whether a tool call of a later step than the last denial's succeeded. */
  wentOnByStep?: boolean;
  /** When the last denial was recorded (`performance.now()`). */
  lastDenialAt?: number;
  /**
   * The member run's finished steps so far, counted by whoever runs it (`memberAsTool`, through
   * `onStepFinish`): a step's tool calls all run before it finishes, so a call of the same step as
   * a denial — which the model chose before it read the denial — is not taken for going on. Steps
   * decide only once one was counted: a member whose `generate()` never calls `onStepFinish` is
   * judged by time.
   */
  step?: number;
  /** {@link DenialLog.step} (or 0) when the last denial was recorded. */
  lastDenialStep?: number;
}

const LOG_KEY = 'keybrake__denials';

const isDenialLog = (value: unknown): value is DenialLog =>
  typeof value === 'object' && value !== null && Array.isArray((value as Partial<DenialLog>).denials);

/**
 * Puts a denial log in `requestContext`: a fresh one, or `log` to go on with (a delegation resumed
 * after a pause, such as a tool approval, runs with a new request context). Mastra gives each
 * delegated member a shallow copy of the supervisor's request context, so the log object itself is
 * shared with the member's tools.
 *
 * @param requestContext - The request context the member will run with.
 * @param log - The log to go on with. @default a new, empty log
 * @returns The log.
 * @example
 * ```ts
 * const log = openDenialLog(context.requestContext); // in onDelegationStart
 * ```
 */
export function openDenialLog(requestContext: RequestContext, log: DenialLog = { denials: [] }): DenialLog {
  requestContext.set(LOG_KEY, log);
  return log;
}

/** The denial log in `requestContext`, if one was opened. */
export function readDenialLog(requestContext: RequestContext | undefined): DenialLog | undefined {
  const log = requestContext?.get(LOG_KEY);
  return isDenialLog(log) ? log : undefined;
}

/**
 * Notes a member's denial in the run's denial log, if there is one (once per denial, so a tool
 * wrapped with `withKeybrake` and covered by `keybrakeHooks` is reported once).
 *
 * @param requestContext - The request context of the tool's execution.
 * @param denial - Who was denied, in which tool, and the typed error.
 * @example
 * ```ts
 * recordMemberDenial(context.requestContext, { member: 'billing', tool: 'charge', error });
 * ```
 */
export function recordMemberDenial(requestContext: RequestContext | undefined, denial: MemberDenial): void {
  const log = requestContext?.get(LOG_KEY);
  if (!isDenialLog(log)) return;
  // Once per log: the same denial reported by two wrappers (`withKeybrake` and `keybrakeHooks`) is
  // one denial, but each member up a chain of delegations logs it in its own log.
  if (log.denials.some((entry) => entry.error === denial.error)) return;
  log.denials.push(denial);
  log.lastDenialAt = performance.now();
  log.lastDenialStep = log.step ?? 0;
  log.wentOnByTime = false;
  log.wentOnByStep = false;
}

/**
 * Notes that a member's tool call succeeded; if it belongs to a later step than the member's last
 * denial (or, when steps are not counted, started after it), the member went on, and a supervisor
 * is not told it was stopped.
 *
 * @param requestContext - The request context of the tool's execution.
 * @param startedAt - When the call started (`performance.now()`).
 * @example
 * ```ts
 * recordMemberSuccess(context.requestContext, started);
 * ```
 */
export function recordMemberSuccess(requestContext: RequestContext | undefined, startedAt: number): void {
  const log = requestContext?.get(LOG_KEY);
  if (!isDenialLog(log) || log.lastDenialAt === undefined) return;
  if (startedAt > log.lastDenialAt) log.wentOnByTime = true;
  if ((log.step ?? 0) > (log.lastDenialStep ?? 0)) log.wentOnByStep = true;
}

/**
 * Whether a member run was stopped by Keybrake: it was denied and did not go on after its last
 * denial — by steps if any were counted, else by time.
 */
export function memberWasStopped(log: DenialLog | undefined): boolean {
  if (log === undefined || log.denials.length === 0) return false;
  return (log.step ?? 0) > 0 ? log.wentOnByStep !== true : log.wentOnByTime !== true;
}

/**
 * The text a supervisor reads about a member Keybrake stopped: who, in which tool, how many calls,
 * then the last denial as the member's model read it (code, message, structured JSON).
 *
 * @param denials - The member's denials, oldest first.
 * @returns The text, or `''` if there are none.
 * @example
 * ```ts
 * describeMemberDenials(log.denials);
 * // 'Keybrake stopped member "billing" (tool "charge", 10 calls denied).\nKEYBRAKE_CAP_EXCEEDED: …\n{"code":…}'
 * ```
 */
export function describeMemberDenials(denials: readonly MemberDenial[]): string {
  const last = denials.at(-1);
  if (!last) return '';
  const count = denials.length === 1 ? '1 call denied' : `${denials.length} calls denied`;
  return `Keybrake stopped member "${last.member}" (tool "${last.tool}", ${count}).\n${formatDenialForModel(last.error)}`;
}

/**
 * The line a supervisor reads about a member that Keybrake denied and that went on afterwards: not
 * a stop, never hidden.
 *
 * @example
 * ```ts
 * describeDenialWentOn(log.denials); // 'Keybrake denied a call of member "billing" during the run (KEYBRAKE_CAP_EXCEEDED: …); the member went on afterwards.'
 * ```
 */
export function describeDenialWentOn(denials: readonly MemberDenial[]): string {
  const last = denials.at(-1);
  if (!last) return '';
  return formatDenialWentOn(last.error, last.member);
}
